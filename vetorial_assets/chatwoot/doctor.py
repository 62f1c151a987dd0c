"""`vetorial doctor`'s Chatwoot check: the source relation has every column we read."""

from .transform import SOURCE_COLUMNS


def source_schema_check(defs):
    def check() -> str:
        source = defs.resources["source_db"]
        extra = source.verify_schema(SOURCE_COLUMNS)
        note = f"; not loaded: {', '.join(extra)}" if extra else ""
        return f"{source.relation} at {source.safe_url()} has all {len(SOURCE_COLUMNS)} columns{note}"

    return check
