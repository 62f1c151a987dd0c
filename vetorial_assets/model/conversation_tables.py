"""Table contracts of the conversation side of the star schema (moves to
warehouse/tables/model.py with the layout of issue 12). Natural keys; no database foreign
keys: every fact key resolves to a dim row by construction (dims are written in the
fact's own unit transaction), inferred members marked `is_inferred`."""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, Date, DateTime, Float, Index, Numeric, PrimaryKeyConstraint, Table, Text

from ..warehouse.ledger_tables import track_changes
from ..warehouse.tables import metadata

UNKNOWN_NAME = "(desconhecido)"

dim_inbox = Table(
    "dim_inbox", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("inbox_id", BigInteger, nullable=False),
    Column("inbox_name", Text, nullable=False),
    Column("channel_type", Text),
    # True while no conversation has told the inbox's name: named '(desconhecido)'.
    Column("is_inferred", Boolean, nullable=False),
    PrimaryKeyConstraint("tenant_id", "inbox_id"),
    schema="model",
    comment="Chatwoot inboxes per tenant (latest name and channel type seen).",
)

dim_contact = Table(
    "dim_contact", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("contact_key", Text, nullable=False),  # the LGPD keyed hash; nothing else about the person
    Column("first_seen_date", Date, nullable=False),
    Column("last_seen_date", Date, nullable=False),
    PrimaryKeyConstraint("tenant_id", "contact_key"),
    schema="model",
    comment="Contacts per tenant by contact_key only: first and last conversation date.",
)

fact_conversations = track_changes(Table(
    "fact_conversations", metadata,
    Column("conversation_id", BigInteger, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("conversation_date", Date, nullable=False),
    Column("inbox_id", BigInteger),
    Column("contact_key", Text),  # NULL: anonymous visitor (no dim row)
    Column("channel_type", Text),
    Column("status", Text),
    Column("is_resolved", Boolean, nullable=False),
    Column("assignee_id", BigInteger),
    Column("labels", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("first_response_at", DateTime(timezone=True)),
    Column("first_reply_seconds", Float),
    Column("message_count", BigInteger),
    Column("is_lead", Boolean, nullable=False),
    Column("visit_scheduled", Boolean, nullable=False),
    Column("crm_converted", Boolean, nullable=False),
    Column("ai_probability_label", Text),
    Column("ai_probability_score", Numeric),
    Column("is_deleted", Boolean, nullable=False),
    PrimaryKeyConstraint("conversation_id"),
    schema="model",
    comment="One row per Chatwoot conversation (deleted ones flagged), keyed to dim_inbox and dim_contact.",
), "tenant_id", "conversation_date")
Index("ix_fact_conversations_tenant_date", fact_conversations.c.tenant_id, fact_conversations.c.conversation_date)
