"""Every warehouse table, defined once (SQLAlchemy Core) and created idempotently.

Tables named by the seeds keep their names and columns: existing dashboards read them.
`info={"volatile": True}` marks audit columns (fetched_at, loaded_at) that the load path
writes but does not compare: a row whose data did not change is left untouched.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
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
    Column("follows", Integer),
    Column("unfollows", Integer),
    Column("net", Integer),
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
    Column("contact_name", Text),
    Column("contact_phone", Text),
    Column("contact_email", Text),
    Column("status", Text),
    Column("assignee_id", BigInteger),
    Column("labels", ARRAY(Text)),
    Column("conversation_created_at", DateTime(timezone=True)),
    Column("conversation_updated_at", DateTime(timezone=True), nullable=False),
    Column("first_response_at", DateTime(timezone=True)),
    Column("message_count", Integer),
    Column("is_lead", Boolean),
    Column("visit_scheduled", Boolean),
    Column("crm_converted", Boolean),
    Column("ai_probability_label", Text),
    Column("ai_probability_score", Numeric(6, 4)),
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
    Column("valor_gasto", Numeric(14, 2), nullable=False),
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
    Column("rows_extracted", Integer, nullable=False, server_default=text("0")),
    Column("rows_inserted", Integer, nullable=False, server_default=text("0")),
    Column("rows_updated", Integer, nullable=False, server_default=text("0")),
    Column("rows_unchanged", Integer, nullable=False, server_default=text("0")),
    Column("rows_deleted", Integer, nullable=False, server_default=text("0")),
    # The tenant's rows in the target after a successful run: the next incremental run adds
    # its inserts instead of counting the tenant.
    Column("rows_total", BigInteger),
    Column("duration_seconds", Numeric(12, 3)),
    Column("load_type", Text, nullable=False),  # full | incremental | reconcile
    Column("triggered_by", Text, nullable=False),  # schedule | sensor | manual | backfill
    Column("error_message", Text),
    Column("error_traceback", Text),
    schema="ops",
    comment="One row per extraction run and tenant (the v3 ETL's audit table).",
)
Index("ix_etl_control_tenant_status", etl_control.c.asset_key, etl_control.c.tenant_id,
      etl_control.c.status, etl_control.c.started_at)

# Volatile (not compared) column names per table, for the load path.
VOLATILE = {
    table.fullname: frozenset(c.name for c in table.columns if c.info.get("volatile"))
    for table in metadata.sorted_tables
}
