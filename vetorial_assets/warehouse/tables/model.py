"""Model layer (Kimball star): dims and facts of the Meta/Instagram side, then of the conversations.

Natural keys are the dims' keys (the ids Meta gives; a date for dim_date); there are no
database foreign keys: every fact key resolves to a dim row by construction (a key with no
real row yet gets an inferred member, `is_inferred` true and name '(desconhecido)',
updated in place when the real row arrives), and an asset check holds it.
A fact row with a missing campaign or ad set id keys it as UNKNOWN_KEY ('-1').
"""

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
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from .base import metadata, required
from .ledger import track_changes

UNKNOWN_KEY = "-1"
UNKNOWN_NAME = "(desconhecido)"


def _inferred() -> Column:
    return Column(
        "is_inferred",
        Boolean,
        nullable=False,
        comment="true: a key facts reference before (or without) its real row; name '(desconhecido)'",
    )


def _name_date() -> Column:
    return Column("name_date", Date, comment="day of the staging row the name comes from (the latest named day)")


dim_date = Table(
    "dim_date",
    metadata,
    Column("date", Date, nullable=False),
    Column("year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("month_name", Text, nullable=False, comment="pt-BR: janeiro ... dezembro"),
    Column("day", Integer, nullable=False),
    Column("iso_week", Integer, nullable=False),
    Column("iso_weekday", Integer, nullable=False, comment="1 = Monday ... 7 = Sunday"),
    Column("weekday_name", Text, nullable=False, comment="pt-BR: segunda-feira ... domingo"),
    Column("is_weekend", Boolean, nullable=False),
    Column("is_holiday", Boolean, nullable=False, comment="Brazilian national holiday (python `holidays`)"),
    Column("holiday_name", Text, comment="pt-BR name of the national holiday"),
    Column("is_business_day", Boolean, nullable=False, comment="not a weekend and not a national holiday"),
    PrimaryKeyConstraint("date"),
    schema="model",
    comment="Calendar from the partitions' start to today + 1 year, with Brazilian national holidays.",
)

dim_tenant = Table(
    "dim_tenant",
    metadata,
    Column("tenant_id", Text, nullable=False),
    Column("tenant_name", Text, nullable=False),
    Column("meta_ad_accounts", Integer, nullable=False, comment="how many ad accounts tenants.yaml gives it"),
    Column("instagram_accounts", Integer, nullable=False),
    Column("has_chatwoot", Boolean, nullable=False),
    _inferred(),
    PrimaryKeyConstraint("tenant_id"),
    schema="model",
    comment="Clients of the agency (tenants.yaml); '-1' stands for an account no tenant owns.",
)

dim_ad_account = Table(
    "dim_ad_account",
    metadata,
    *required(Text, "account_id", "tenant_id", "account_name"),
    Column("currency", Text, comment="ISO 4217 (raw.meta_ad_accounts); NULL until fetched"),
    Column("timezone_name", Text, comment="IANA time zone of the account; NULL until fetched"),
    Column("account_status", BigInteger),
    _inferred(),
    PrimaryKeyConstraint("account_id"),
    schema="model",
    comment="Meta ad accounts: metadata from raw.meta_ad_accounts, inferred from insights until it arrives.",
)

dim_campaign = Table(
    "dim_campaign",
    metadata,
    *required(Text, "campaign_id", "account_id", "tenant_id", "campaign_name"),
    _name_date(),
    _inferred(),
    PrimaryKeyConstraint("campaign_id"),
    schema="model",
    comment="Meta campaigns, latest name seen in staging insights.",
)

dim_adset = Table(
    "dim_adset",
    metadata,
    *required(Text, "adset_id", "campaign_id", "account_id", "tenant_id", "adset_name"),
    _name_date(),
    _inferred(),
    PrimaryKeyConstraint("adset_id"),
    schema="model",
    comment="Meta ad sets, latest name seen in staging insights.",
)

dim_ad = Table(
    "dim_ad",
    metadata,
    *required(Text, "ad_id", "adset_id", "campaign_id", "account_id", "tenant_id", "ad_name"),
    _name_date(),
    _inferred(),
    PrimaryKeyConstraint("ad_id"),
    schema="model",
    comment="Meta ads, latest name seen in staging insights.",
)

dim_placement = Table(
    "dim_placement",
    metadata,
    Column("platform", Text, nullable=False, comment="publisher_platform: facebook, instagram, ..."),
    Column("position", Text, nullable=False, comment="platform_position: feed, story, reels, ..."),
    Column("platform_label", Text, nullable=False, comment="Facebook, Instagram, Audience Network, Messenger"),
    Column("is_facebook", Boolean, nullable=False),
    Column("is_instagram", Boolean, nullable=False),
    _inferred(),
    PrimaryKeyConstraint("platform", "position"),
    schema="model",
    comment="Where an ad was shown: publisher platform x position.",
)

dim_ig_account = Table(
    "dim_ig_account",
    metadata,
    *required(Text, "ig_account_id", "tenant_id"),
    _inferred(),
    PrimaryKeyConstraint("ig_account_id"),
    schema="model",
    comment="Instagram business accounts (tenants.yaml), inferred when raw holds one tenants.yaml lacks.",
)

fact_ad_insights_daily = Table(
    "fact_ad_insights_daily",
    metadata,
    Column("hash_id", Text, nullable=False, comment="staging's md5(ad_id+date+platform+position)"),
    Column("date", Date, nullable=False),
    *required(Text, "tenant_id", "account_id", "campaign_id", "adset_id", "ad_id", "platform", "position"),
    Column("spend", Numeric, nullable=False),
    *required(
        BigInteger,
        "impressions",
        "reach",
        "clicks",
        "leads_form",
        "leads_site",
        "leads_messaging",
        "leads_total",
        "ig_followers",
    ),
    PrimaryKeyConstraint("hash_id"),
    schema="model",
    comment="Meta Ads delivery per ad, placement and day (grain of staging.insights_meta_ads).",
)
Index("ix_fact_ad_insights_daily_account_date", fact_ad_insights_daily.c.account_id, fact_ad_insights_daily.c.date)
Index("ix_fact_ad_insights_daily_tenant_date", fact_ad_insights_daily.c.tenant_id, fact_ad_insights_daily.c.date)

fact_ig_follows_daily = Table(
    "fact_ig_follows_daily",
    metadata,
    Column("ig_account_id", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("has_data", Boolean, nullable=False, comment="false: Meta had no data for the day (metrics NULL)"),
    Column("follows", BigInteger),
    Column("unfollows", BigInteger),
    Column("net", BigInteger),
    PrimaryKeyConstraint("ig_account_id", "date"),
    schema="model",
    comment="Instagram follows and unfollows per account and day.",
)

MODEL_TABLES = (
    dim_date,
    dim_tenant,
    dim_ad_account,
    dim_campaign,
    dim_adset,
    dim_ad,
    dim_placement,
    dim_ig_account,
    fact_ad_insights_daily,
    fact_ig_follows_daily,
)


# The facts' own writes feed their consumers (the marts, lead_funnel_daily) through the
# change ledger: the ad fact by tenant (a mart unit is a tenant's day), the IG fact by IG
# account (growth is per account).
track_changes(fact_ad_insights_daily, "tenant_id", "date")
track_changes(fact_ig_follows_daily, "ig_account_id", "date")


# ----------------------------------------------------------------------------- conversations
# Natural keys; no database foreign keys: every fact key resolves to a dim row by
# construction (dims are written in the fact's own unit transaction), inferred members
# marked `is_inferred`.

dim_inbox = Table(
    "dim_inbox",
    metadata,
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
    "dim_contact",
    metadata,
    Column("tenant_id", Text, nullable=False),
    Column("contact_key", Text, nullable=False),  # the LGPD keyed hash; nothing else about the person
    *required(Date, "first_seen_date", "last_seen_date"),
    PrimaryKeyConstraint("tenant_id", "contact_key"),
    schema="model",
    comment="Contacts per tenant by contact_key only: first and last conversation date.",
)

fact_conversations = track_changes(
    Table(
        "fact_conversations",
        metadata,
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
        *required(Boolean, "is_lead", "visit_scheduled", "crm_converted"),
        Column("ai_probability_label", Text),
        Column("ai_probability_score", Numeric),
        Column("is_deleted", Boolean, nullable=False),
        PrimaryKeyConstraint("conversation_id"),
        schema="model",
        comment="One row per Chatwoot conversation (deleted ones flagged), keyed to dim_inbox and dim_contact.",
    ),
    "tenant_id",
    "conversation_date",
)
Index("ix_fact_conversations_tenant_date", fact_conversations.c.tenant_id, fact_conversations.c.conversation_date)
