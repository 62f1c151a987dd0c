"""Mart tables of the Meta/Instagram side (BI-facing, tenant x day)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Numeric, PrimaryKeyConstraint, Table, Text

from ..warehouse.tables import metadata


def _count(name: str, comment: str | None = None) -> Column:
    return Column(name, BigInteger, nullable=False, comment=comment)


def _ratio(name: str, comment: str) -> Column:
    return Column(name, Numeric, comment=comment + "; NULL when the denominator is 0")


campaign_performance_daily = Table(
    "campaign_performance_daily", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("campaign_id", Text, nullable=False),
    Column("spend", Numeric, nullable=False),
    _count("impressions"),
    _count("reach", "sum of daily per-ad-placement reach: NOT unique people (Meta deduplicates reach only "
                    "within one row)"),
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
Index("ix_campaign_performance_daily_account_date", campaign_performance_daily.c.account_id,
      campaign_performance_daily.c.date)

instagram_growth_daily = Table(
    "instagram_growth_daily", metadata,
    Column("tenant_id", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("ig_account_id", Text, nullable=False),
    Column("has_data", Boolean, nullable=False, comment="false: Meta had no data for the day"),
    Column("follows", BigInteger, comment="NULL when has_data is false"),
    Column("unfollows", BigInteger),
    Column("net", BigInteger),
    _count("cumulative_net", "sum of net over every day up to this one (days without data add 0)"),
    Column("net_7d_avg", Numeric, comment="mean net over the 7 days ending here, of the days with data; "
                                          "NULL when none of them has data"),
    PrimaryKeyConstraint("tenant_id", "date", "ig_account_id"),
    schema="mart",
    comment="Instagram follower growth per tenant, day and Instagram account.",
)
Index("ix_instagram_growth_daily_account_date", instagram_growth_daily.c.ig_account_id,
      instagram_growth_daily.c.date)

MART_TABLES = (campaign_performance_daily, instagram_growth_daily)
