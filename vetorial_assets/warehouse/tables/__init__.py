"""Every warehouse table, defined once per layer (SQLAlchemy Core) and created idempotently.

One module per layer (raw.py, staging.py, ops.py, ...), all registered on the one
`metadata` of base.py; this package imports each layer module and re-exports its tables, so
`from vetorial_assets.warehouse.tables import <table>` works for every table.

Tables named by the seeds keep their names and columns: existing dashboards read them.
`info={"volatile": True}` marks audit columns (fetched_at, loaded_at) that the load path
writes but does not compare: a row whose data did not change is left untouched.
`info={"pii": True}` marks personal data: a value of it the load path cannot store is
recorded in ops.rejected_values masked, never as it was.

Column types: a column copied from a source accepts every value of the source field's
declared type (numeric without a narrowing precision, counts in bigint, text without a
length limit). A rounding rule of ours (spend to cents) is a business rule of the cleaner,
not a column type. Tables created by an older version are brought here by the numbered
migrations in migrations/ (create_all never alters an existing table).
"""

from __future__ import annotations

from . import ops, raw, staging
from .base import SCHEMAS, fetched_at, metadata
from .ops import etl_control, pulled_days, rejected_values, schema_migrations
from .raw import conversas_analytics_raw, ig_follows_raw, meta_ads_insights_raw
from .staging import insights_meta_ads

# Volatile (not compared) column names per table, for the load path.
VOLATILE = {
    table.fullname: frozenset(c.name for c in table.columns if c.info.get("volatile"))
    for table in metadata.sorted_tables
}
# Personal-data column names per table: masked wherever a value of them is recorded.
PII = {
    table.fullname: frozenset(c.name for c in table.columns if c.info.get("pii")) for table in metadata.sorted_tables
}

__all__ = [
    "PII",
    "SCHEMAS",
    "VOLATILE",
    "conversas_analytics_raw",
    "etl_control",
    "fetched_at",
    "ig_follows_raw",
    "insights_meta_ads",
    "meta_ads_insights_raw",
    "metadata",
    "ops",
    "pulled_days",
    "raw",
    "rejected_values",
    "schema_migrations",
    "staging",
]
