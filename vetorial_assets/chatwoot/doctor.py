"""`vetorial doctor`'s Chatwoot checks: the source relation has every column we read, with
types the warehouse can hold (chatwoot/source_types.py, the comparison the sync makes before
reading: incompatible fails, may-not-fit warns), and the configured role cannot write (a
warning: the sync never writes, but only the role guarantees it)."""

from ..source import DoctorWarning, resolved
from ..warehouse.contract import column_types
from ..warehouse.tables import conversas_analytics_raw
from .source_types import TypeComparison, compare
from .transform import SOURCE_COLUMNS


def source_types(source, rel=None) -> TypeComparison:
    """The source's column types against the warehouse contract's (what a warehouse has
    after its schema pass); `rel`: the relation as already described."""
    return compare(rel or source.describe(), column_types(conversas_analytics_raw), SOURCE_COLUMNS)


def source_schema_check(defs):
    def check() -> str:
        source = resolved(defs, "source_db")
        rel = source.describe()
        extra = source.verify_schema(SOURCE_COLUMNS, rel)
        types = source_types(source, rel)
        types.raise_if_incompatible()  # fails the check, naming column, source and warehouse type
        note = f"; not loaded: {', '.join(extra)}" if extra else ""
        line = f"{source.relation} at {source.safe_url()} has all {len(SOURCE_COLUMNS)} columns{note}"
        risky = types.may_not_fit
        if risky:
            raise DoctorWarning(
                f"{line}; values of {len(risky)} column(s) may not fit the warehouse (each one "
                f"that does not is quarantined): {'; '.join(m.describe() for m in risky)}"
            )
        return line

    return check


def source_role_check(defs):
    def check() -> str:
        source = resolved(defs, "source_db")
        if not source.url:
            return "sandbox Chatwoot (ours, local): checked for VETORIAL_CHATWOOT_URL only"
        access = source.write_access()
        if access.can_write:
            # A superuser may write anything: listing its grants would add nothing.
            how = (
                ["it is a superuser"]
                if access.superuser
                else [f"{'/'.join(privileges)} on {relation}" for relation, privileges in access.writable.items()]
            )
            raise DoctorWarning(
                f"role {access.role!r} can write to the Chatwoot database ({'; '.join(how)}); "
                "sessions are read-only, but only a read-only role guarantees it: see "
                'docs/reliability.md, "Chatwoot source: read-only role"'
            )
        return f"role {access.role!r} cannot write to the relation or the tables it reads"

    return check
