"""`vetorial doctor`'s Chatwoot check: the source relation has every column we read, and
their types against the warehouse's (chatwoot/source_types.py, as the sync compares them
before reading)."""

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
        source = defs.resources["source_db"]
        rel = source.describe()
        extra = source.verify_schema(SOURCE_COLUMNS, rel)
        types = source_types(source, rel)
        types.raise_if_incompatible()  # fails the check, naming column, source and warehouse type
        note = f"; not loaded: {', '.join(extra)}" if extra else ""
        risky = types.may_not_fit
        if risky:
            note += (f"; values of {len(risky)} column(s) may not fit (quarantined one by one): "
                     f"{'; '.join(m.describe() for m in risky)}")
        return f"{source.relation} at {source.safe_url()} has all {len(SOURCE_COLUMNS)} columns{note}"

    return check
