"""Mart layer (BI-facing, tenant x day): Meta Ads and Instagram, then the conversations and the lead funnel."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Float, Index, Numeric, PrimaryKeyConstraint, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from .base import metadata


def _count(name: str, comment: str | None = None) -> Column:
    return Column(name, BigInteger, nullable=False, comment=comment)


def _ratio(name: str, comment: str) -> Column:
    return Column(name, Numeric, comment=comment + "; NULL when the denominator is 0")


campaign_performance_daily = Table(
    "campaign_performance_daily",
    metadata,
    Column("tenant_id", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("spend", Numeric, nullable=False),
    _count("impressions"),
    _count(
        "reach", "sum of daily per-ad-placement reach: NOT unique people (Meta deduplicates reach only within one row)"
    ),
    _count("clicks", "max(inline_link_clicks, link_click) per row (business-rules §1.3)"),
    _ratio("ctr", "clicks / impressions * 100 (percent)"),
    _ratio("cpc", "spend / clicks"),
    _count("leads_form"),
    _count("leads_site"),
    _count("leads_messaging"),
    _count("leads_total"),
    _ratio("cpl", "spend / leads_total"),
    Column("spend_facebook", Numeric, nullable=False),
    Column("spend_instagram", Numeric, nullable=False),
    _count("impressions_facebook"),
    _count("impressions_instagram"),
    _count("clicks_facebook"),
    _count("clicks_instagram"),
    _count("leads_facebook"),
    _count("leads_instagram"),
    PrimaryKeyConstraint("tenant_id", "date", "account_id", "campaign_id"),
    schema="mart",
    # Ids only: a name changes (a campaign renamed) without its days changing, so names
    # are joined at read time from the dims (mart.vw_campaign_performance_daily).
    comment="Meta Ads performance per tenant, day, ad account and campaign, with the Facebook/Instagram split.",
)
Index(
    "ix_campaign_performance_daily_account_date",
    campaign_performance_daily.c.account_id,
    campaign_performance_daily.c.date,
)

instagram_growth_daily = Table(
    "instagram_growth_daily",
    metadata,
    Column("tenant_id", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("ig_account_id", Text, nullable=False),
    Column("has_data", Boolean, nullable=False, comment="false: Meta had no data for the day"),
    Column("follows", BigInteger, comment="NULL when has_data is false"),
    Column("unfollows", BigInteger),
    Column("net", BigInteger),
    _count("cumulative_net", "sum of net over every day up to this one (days without data add 0)"),
    Column(
        "net_7d_avg",
        Numeric,
        comment="mean net over the 7 days ending here, of the days with data; NULL when none of them has data",
    ),
    PrimaryKeyConstraint("tenant_id", "date", "ig_account_id"),
    schema="mart",
    comment="Instagram follower growth per tenant, day and Instagram account.",
)
Index("ix_instagram_growth_daily_account_date", instagram_growth_daily.c.ig_account_id, instagram_growth_daily.c.date)

MART_TABLES = (campaign_performance_daily, instagram_growth_daily)


# ----------------------------------------------------------------------------- conversations
# Ratios are NULL when their denominator is 0; deleted conversations are left out of every
# figure but `deleted_conversations`.

conversation_service_daily = Table(
    "conversation_service_daily",
    metadata,
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
    "conversation_growth_monthly",
    metadata,
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
    "lead_funnel_daily",
    metadata,
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
