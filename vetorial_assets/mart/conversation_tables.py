"""Table contracts of the conversation marts and the lead funnel (moves to
warehouse/tables/mart.py with the layout of issue 12). Ratios are NULL when their
denominator is 0; deleted conversations are left out of every figure but
`deleted_conversations`."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Float, Numeric, PrimaryKeyConstraint, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from ..warehouse.tables import metadata

conversation_service_daily = Table(
    "conversation_service_daily", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("inbox_id", BigInteger, nullable=False),  # 0: conversations without an inbox
    Column("conversations", BigInteger, nullable=False),
    Column("unique_contacts", BigInteger, nullable=False),
    Column("replied_conversations", BigInteger, nullable=False),
    Column("first_reply_median_seconds", Float),
    Column("first_reply_p90_seconds", Float),
    Column("resolved_conversations", BigInteger, nullable=False),
    Column("resolved_share", Numeric),
    Column("leads", BigInteger, nullable=False),
    Column("ai_scored", BigInteger, nullable=False),
    Column("ai_score_p25", Numeric),
    Column("ai_score_median", Numeric),
    Column("ai_score_p75", Numeric),
    Column("ai_label_counts", JSONB, nullable=False),  # {"alta": 3, ...}; "(sem rótulo)" for none
    Column("deleted_conversations", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "day", "inbox_id"),
    schema="mart",
    comment="Service per tenant, day and inbox: volume, unique contacts, first reply (median, p90), "
            "resolution, AI probability distribution.",
)

conversation_growth_monthly = Table(
    "conversation_growth_monthly", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("month", Date, nullable=False),  # first day of the month
    Column("conversations", BigInteger, nullable=False),
    Column("unique_contacts", BigInteger, nullable=False),
    Column("leads", BigInteger, nullable=False),
    Column("crm_conversions", BigInteger, nullable=False),
    Column("prev_month_conversations", BigInteger),
    Column("growth_pct", Numeric),  # NULL when the month before had none
    PrimaryKeyConstraint("tenant_id", "month"),
    schema="mart",
    comment="Conversations per tenant and month with month-over-month growth (as Lacrei's patients mart).",
)

lead_funnel_daily = Table(
    "lead_funnel_daily", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("spend", Numeric, nullable=False),
    Column("ad_leads", BigInteger, nullable=False),
    Column("conversations_started", BigInteger, nullable=False),
    Column("qualified_leads", BigInteger, nullable=False),
    Column("visits_scheduled", BigInteger, nullable=False),
    Column("crm_conversions", BigInteger, nullable=False),
    Column("cost_per_ad_lead", Numeric),
    Column("cost_per_conversation", Numeric),
    Column("cost_per_qualified_lead", Numeric),
    Column("cost_per_visit", Numeric),
    Column("cost_per_conversion", Numeric),
    Column("conversation_rate", Numeric),  # conversations / ad leads
    Column("qualification_rate", Numeric),  # qualified / conversations
    Column("visit_rate", Numeric),  # visits / qualified
    Column("conversion_rate", Numeric),  # CRM conversions / visits
    PrimaryKeyConstraint("tenant_id", "day"),
    schema="mart",
    comment="Lead funnel per tenant and day: spend -> ad leads -> conversations -> qualified -> visits -> "
            "CRM conversions, with cost per step and step rates.",
)
