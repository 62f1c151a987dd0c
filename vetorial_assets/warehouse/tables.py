"""Every warehouse table, defined once (SQLAlchemy Core) and created idempotently.

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

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

SCHEMAS = ("raw", "staging", "model", "mart", "ops")

metadata = MetaData()


def _fetched_at(name: str = "fetched_at") -> Column:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now(),
                  info={"volatile": True})


# ----------------------------------------------------------------------------- raw

meta_ads_insights_raw = Table(
    "meta_ads_insights", metadata,
    Column("account_id", Text, nullable=False),
    Column("data", Date, nullable=False),
    Column("ad_id", Text, nullable=False),
    Column("publisher_platform", Text, nullable=False),
    Column("platform_position", Text, nullable=False),
    # The API row exactly as received (the Atlas `dados_raw` idea); never carries the token.
    Column("payload", JSONB, nullable=False),
    Column("content_hash", Text, nullable=False),
    _fetched_at(),
    PrimaryKeyConstraint("account_id", "data", "ad_id", "publisher_platform", "platform_position"),
    schema="raw",
    comment="Meta Ads insights rows as the Graph API returned them (level=ad, daily, by placement).",
)

ig_follows_raw = Table(
    "ig_follows", metadata,
    Column("ig_account_id", Text, nullable=False),
    Column("data_registro", Date, nullable=False),
    # 'ok' or 'no_data' (Meta returned nothing yet: retried by the next run, not zeros).
    Column("status", Text, nullable=False),
    Column("follows", BigInteger),
    Column("unfollows", BigInteger),
    Column("net", BigInteger),
    Column("payload", JSONB, nullable=False),
    _fetched_at(),
    PrimaryKeyConstraint("ig_account_id", "data_registro"),
    schema="raw",
    comment="Instagram follows_and_unfollows per account and day (seed key: ig_account_id + data_registro).",
)

conversas_analytics_raw = Table(
    "conversas_analytics", metadata,
    Column("conversation_id", BigInteger, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("inbox_id", BigInteger),
    Column("inbox_name", Text),
    Column("channel_type", Text),
    Column("contact_id", BigInteger),
    Column("contact_name", Text, info={"pii": True}),
    Column("contact_phone", Text, info={"pii": True}),
    Column("contact_email", Text, info={"pii": True}),
    Column("status", Text),
    Column("assignee_id", BigInteger),
    Column("labels", ARRAY(Text)),
    Column("conversation_created_at", DateTime(timezone=True)),
    Column("conversation_updated_at", DateTime(timezone=True), nullable=False),
    Column("first_response_at", DateTime(timezone=True)),
    Column("message_count", BigInteger),
    Column("is_lead", Boolean),
    Column("visit_scheduled", Boolean),
    Column("crm_converted", Boolean),
    Column("ai_probability_label", Text),
    # Whatever scale the source uses (0-1 or 0-100): no precision of ours narrows it.
    Column("ai_probability_score", Numeric),
    # Local (America/Sao_Paulo) calendar date of creation, computed with zoneinfo.
    Column("conversation_date", Date),
    # Set when the conversation disappeared from the source (key reconciliation).
    Column("deleted_at", DateTime(timezone=True)),
    _fetched_at("loaded_at"),
    PrimaryKeyConstraint("conversation_id"),
    schema="raw",
    comment="Chatwoot conversations from vw_conversations_analytics_final (the v3 ETL's conversas_analytics).",
    # Room in every page for a new version of its rows: a changed conversation is then
    # rewritten in place (a HOT update, no index entry to add), not moved to the table's end.
    postgresql_with={"fillfactor": 90},
)
# No index besides the key: each one costs every loaded row an insert (the former
# (tenant_id, conversation_updated_at) one added ~40% to the warehouse's CPU in a full
# load), and no statement of the sync needs one (whether a tenant has rows comes from
# ops.etl_control).

# ----------------------------------------------------------------------------- staging

insights_meta_ads = Table(
    "insights_meta_ads", metadata,
    # md5(ad_id + date + platform + position): the seed's key, kept for existing dashboards.
    Column("hash_id", Text, nullable=False),
    Column("data", Date, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("account_name", Text),
    Column("campaign_id", Text),
    Column("campaign_name", Text),
    Column("adset_id", Text),
    Column("adset_name", Text),
    Column("ad_id", Text, nullable=False),
    Column("ad_name", Text),
    Column("plataforma", Text, nullable=False),
    Column("posicionamento", Text, nullable=False),
    # The cleaner rounds spend to cents (a business rule); the column narrows nothing.
    Column("valor_gasto", Numeric, nullable=False),
    Column("impressoes", BigInteger, nullable=False),
    Column("alcance", BigInteger, nullable=False),
    Column("cliques", BigInteger, nullable=False),
    Column("leads_formulario", BigInteger, nullable=False),
    Column("leads_site", BigInteger, nullable=False),
    Column("leads_mensagem", BigInteger, nullable=False),
    Column("leads_total", BigInteger, nullable=False),
    Column("seguidores_instagram", BigInteger, nullable=False),
    Column("ctr", Float),
    Column("cpc", Float),
    Column("cpl", Float),
    _fetched_at("updated_at"),
    PrimaryKeyConstraint("hash_id"),
    schema="staging",
    comment="Cleaned Meta Ads insights per ad, day and placement (the seed's insights_meta_ads contract).",
)
Index("ix_insights_meta_ads_account_data", insights_meta_ads.c.account_id, insights_meta_ads.c.data)

# ----------------------------------------------------------------------------- ops

etl_control = Table(
    "etl_control", metadata,
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
Index("ix_etl_control_tenant_status", etl_control.c.asset_key, etl_control.c.tenant_id,
      etl_control.c.status, etl_control.c.started_at)

schema_migrations = Table(
    "schema_migrations", metadata,
    # The migration file's name without .sql, e.g. 0003_widen_source_columns.
    Column("version", Text, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="ops",
    comment="Numbered schema migrations (vetorial_assets/warehouse/migrations) applied to this warehouse.",
)

rejected_values = Table(
    "rejected_values", metadata,
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
    "pulled_days", metadata,
    Column("source", Text, nullable=False),  # the asset key of the pull, e.g. raw/meta_ads_insights
    Column("partition", Text, nullable=False),  # the ad / IG account
    Column("day", Date, nullable=False),
    # When the pull whose rows are stored for the day began (the warehouse's clock): a run
    # whose pull began earlier leaves the day as it is (resources/spool.py).
    Column("pulled_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Text),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("source", "partition", "day"),
    schema="ops",
    comment="Per API-pulled asset, account and day: the start of the pull whose rows are stored.",
)

# The change ledger's tables and triggers (registered on `metadata` like the ones above).
from . import ledger_tables  # noqa: E402,F401  (needs `metadata` and the tracked tables)
# The warehouse layers' tables, declared in their own folders (issue 13) on this metadata:
# imported here so that every schema pass creates them (until issue 12 gives them
# warehouse/tables/<layer>.py).
from ..meta import tables as _meta_tables  # noqa: E402,F401
from ..staging import tables as _staging_tables  # noqa: E402,F401
from ..model import tables as _model_tables  # noqa: E402,F401
from ..model import conversation_tables as _model_conversation_tables  # noqa: E402,F401
from ..mart import tables as _mart_tables  # noqa: E402,F401
from ..mart import conversation_tables as _mart_conversation_tables  # noqa: E402,F401

# Volatile (not compared) column names per table, for the load path.
VOLATILE = {
    table.fullname: frozenset(c.name for c in table.columns if c.info.get("volatile"))
    for table in metadata.sorted_tables
}
# Personal-data column names per table: masked wherever a value of them is recorded.
PII = {
    table.fullname: frozenset(c.name for c in table.columns if c.info.get("pii"))
    for table in metadata.sorted_tables
}
