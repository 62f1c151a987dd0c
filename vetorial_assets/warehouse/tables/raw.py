"""Raw layer: source rows as received, keyed as the source keys them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from .base import fetched_at, metadata
from .ledger import track_changes

meta_ads_insights_raw = Table(
    "meta_ads_insights",
    metadata,
    Column("account_id", Text, nullable=False),
    Column("data", Date, nullable=False),
    Column("ad_id", Text, nullable=False),
    Column("publisher_platform", Text, nullable=False),
    Column("platform_position", Text, nullable=False),
    # The API row exactly as received (the Atlas `dados_raw` idea); never carries the token.
    Column("payload", JSONB, nullable=False),
    # md5 of the payload's canonical JSON (meta/raw_rows.py): a re-pull compares it, not the
    # payload (jsonb has no cheap equality: compared as text it was most of a warm merge).
    Column("content_hash", Text, nullable=False, info={"digest_of": ("payload",)}),
    fetched_at(),
    PrimaryKeyConstraint("account_id", "data", "ad_id", "publisher_platform", "platform_position"),
    schema="raw",
    comment="Meta Ads insights rows as the Graph API returned them (level=ad, daily, by placement).",
)

ig_follows_raw = Table(
    "ig_follows",
    metadata,
    Column("ig_account_id", Text, nullable=False),
    Column("data_registro", Date, nullable=False),
    # 'ok' or 'no_data' (Meta returned nothing yet: retried by the next run, not zeros).
    Column("status", Text, nullable=False),
    Column("follows", BigInteger),
    Column("unfollows", BigInteger),
    Column("net", BigInteger),
    Column("payload", JSONB, nullable=False),
    fetched_at(),
    PrimaryKeyConstraint("ig_account_id", "data_registro"),
    schema="raw",
    comment="Instagram follows_and_unfollows per account and day (seed key: ig_account_id + data_registro).",
)

conversas_analytics_raw = Table(
    "conversas_analytics",
    metadata,
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
    fetched_at("loaded_at"),
    PrimaryKeyConstraint("conversation_id"),
    schema="raw",
    comment="Chatwoot conversations from vw_conversations_analytics_final (the v3 ETL's conversas_analytics).",
    # Room in every page for a new version of its rows: a changed conversation is then
    # rewritten in place (a HOT update, no index entry to add), not moved to the table's end.
    postgresql_with={"fillfactor": 90},
)
# No index besides the key: each one costs every loaded row an insert (the former
# (tenant_id, conversation_updated_at) one was measured, docs/design.md, "Measurements
# behind the code"), and no statement of the sync needs one (whether a tenant has rows comes from
# ops.etl_control).

# The change ledger: what each write touched, per account (or tenant) and day.
track_changes(ig_follows_raw, "ig_account_id", "data_registro")
track_changes(conversas_analytics_raw, "tenant_id", "conversation_date", "conversation_updated_at")

meta_ad_accounts_raw = Table(
    "meta_ad_accounts",
    metadata,
    Column("account_id", Text, nullable=False),  # act_ form, as tenants.yaml
    Column("account_name", Text),
    Column("currency", Text),
    Column("timezone_name", Text),
    Column("account_status", BigInteger),
    # The Graph API's answer as received (never carries the token).
    Column("payload", JSONB, nullable=False),
    fetched_at(),
    PrimaryKeyConstraint("account_id"),
    schema="raw",
    comment="Meta ad account metadata (name, currency, time zone, status), refreshed daily.",
)
