"""Staging layer: a source's rows cleaned and typed (contracts existing dashboards read)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from .base import fetched_at, metadata
from .ledger import track_changes

insights_meta_ads = Table(
    "insights_meta_ads",
    metadata,
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
    fetched_at("updated_at"),
    PrimaryKeyConstraint("hash_id"),
    schema="staging",
    comment="Cleaned Meta Ads insights per ad, day and placement (the seed's insights_meta_ads contract).",
)
Index("ix_insights_meta_ads_account_data", insights_meta_ads.c.account_id, insights_meta_ads.c.data)
track_changes(insights_meta_ads, "account_id", "data")

# staging.conversations (issue 13): typed, LGPD-anonymised Chatwoot conversations.
conversations = track_changes(
    Table(
        "conversations",
        metadata,
        Column("conversation_id", BigInteger, nullable=False),
        Column("tenant_id", Text, nullable=False),
        Column("account_id", BigInteger, nullable=False),
        Column("inbox_id", BigInteger),
        Column("inbox_name", Text),
        Column("channel_type", Text),
        # HMAC-SHA256 (hex) of the normalised phone or e-mail, keyed by VETORIAL_LGPD_SALT;
        # NULL for an anonymous visitor. No name, phone or e-mail past raw.
        Column("contact_key", Text),
        Column("status", Text),  # open | resolved | pending | snoozed (or the source's unknown text)
        Column("assignee_id", BigInteger),
        Column("labels", ARRAY(Text)),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("first_response_at", DateTime(timezone=True)),
        Column("first_reply_seconds", Float),
        # America/Sao_Paulo date of creation (of the last update when the creation is unknown).
        Column("conversation_date", Date, nullable=False),
        Column("message_count", BigInteger),
        Column("is_lead", Boolean),
        Column("visit_scheduled", Boolean),
        Column("crm_converted", Boolean),
        Column("ai_probability_label", Text),
        Column("ai_probability_score", Numeric),  # 0..1
        Column("is_deleted", Boolean, nullable=False),
        Column("deleted_at", DateTime(timezone=True)),
        PrimaryKeyConstraint("conversation_id"),
        schema="staging",
        comment="Chatwoot conversations, typed and LGPD-anonymised (contact_key instead of name/phone/e-mail).",
    ),
    "tenant_id",
    "conversation_date",
)
Index("ix_staging_conversations_tenant_date", conversations.c.tenant_id, conversations.c.conversation_date)
# dim_contact recomputes a contact's first and last date from all of the tenant's rows.
Index("ix_staging_conversations_tenant_contact", conversations.c.tenant_id, conversations.c.contact_key)
