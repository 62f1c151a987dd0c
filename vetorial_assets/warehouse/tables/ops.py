"""Control tables (schema ops): run audit, schema migrations, rejected values, pulled days."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from .base import metadata

etl_control = Table(
    "etl_control",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("execution_id", Text, nullable=False),  # the Dagster run id
    Column("asset_key", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Column("status", Text, nullable=False),  # running | success | failed
    Column("watermark_start", DateTime(timezone=True)),
    Column("watermark_end", DateTime(timezone=True)),
    Column("rows_extracted", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_inserted", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_updated", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_unchanged", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_deleted", BigInteger, nullable=False, server_default=text("0")),
    # The tenant's rows in the target after a successful run: the next incremental run adds
    # its inserts instead of counting the tenant.
    Column("rows_total", BigInteger),
    Column("duration_seconds", Numeric),
    Column("load_type", Text, nullable=False),  # full | incremental | reconcile
    Column("triggered_by", Text, nullable=False),  # schedule | sensor | manual | backfill
    Column("error_message", Text),
    Column("error_traceback", Text),
    schema="ops",
    comment="One row per extraction run and tenant (the v3 ETL's audit table).",
)
Index(
    "ix_etl_control_tenant_status",
    etl_control.c.asset_key,
    etl_control.c.tenant_id,
    etl_control.c.status,
    etl_control.c.started_at,
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    # The migration file's name without .sql, e.g. 0003_widen_source_columns.
    Column("version", Text, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="ops",
    comment="Numbered schema migrations (vetorial_assets/warehouse/migrations) applied to this warehouse.",
)

rejected_values = Table(
    "rejected_values",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("run_id", Text),  # the Dagster run id
    Column("source", Text, nullable=False),  # the asset key, e.g. raw/conversas_analytics
    Column("partition", Text),  # tenant id, or ad / IG account of a date-range partition
    Column("table_name", Text, nullable=False),
    # The row's key (JSON: column -> value); for a row left out before it had one (a Meta
    # row without a date, say) the fields that identify it.
    Column("row_key", JSONB, nullable=False),
    Column("column_name", Text, nullable=False),
    Column("reason", Text, nullable=False),
    # The value as text: personal data masked, anything else cut to a readable length.
    Column("value", Text),
    Column("action", Text, nullable=False),  # nulled | row_skipped
    CheckConstraint("action IN ('nulled', 'row_skipped')", name="rejected_values_action"),
    schema="ops",
    comment="Source values the warehouse could not store: nulled in their row, or the row left out.",
)
Index("ix_rejected_values_run", rejected_values.c.run_id, rejected_values.c.source)

pulled_days = Table(
    "pulled_days",
    metadata,
    Column("source", Text, nullable=False),  # the asset key of the pull, e.g. raw/meta_ads_insights
    Column("partition", Text, nullable=False),  # the ad / IG account
    Column("day", Date, nullable=False),
    # When the pull whose rows are stored for the day began (the warehouse's clock): a run
    # whose pull began earlier leaves the day as it is (resources/load/spool.py).
    Column("pulled_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Text),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("source", "partition", "day"),
    schema="ops",
    comment="Per API-pulled asset, account and day: the start of the pull whose rows are stored.",
)
