"""`vetorial doctor`'s Chatwoot checks: the source relation has every column we read, and the
configured role cannot write (a warning: the sync never writes, but only the role guarantees it)."""

from ..doctor import DoctorWarning, resolved
from .transform import SOURCE_COLUMNS


def source_schema_check(defs):
    def check() -> str:
        source = resolved(defs, "source_db")
        extra = source.verify_schema(SOURCE_COLUMNS)
        note = f"; not loaded: {', '.join(extra)}" if extra else ""
        return f"{source.relation} at {source.safe_url()} has all {len(SOURCE_COLUMNS)} columns{note}"

    return check


def source_role_check(defs):
    def check() -> str:
        source = resolved(defs, "source_db")
        if not source.url:
            return "sandbox Chatwoot (ours, local): checked for VETORIAL_CHATWOOT_URL only"
        access = source.write_access()
        if access.can_write:
            # A superuser may write anything: listing its grants would add nothing.
            how = (["it is a superuser"] if access.superuser else
                   [f"{'/'.join(privileges)} on {relation}" for relation, privileges in access.writable.items()])
            raise DoctorWarning(f"role {access.role!r} can write to the Chatwoot database ({'; '.join(how)}); "
                                "sessions are read-only, but only a read-only role guarantees it: see "
                                "docs/reliability.md, \"Chatwoot source: read-only role\"")
        return f"role {access.role!r} cannot write to the relation or the tables it reads"

    return check
