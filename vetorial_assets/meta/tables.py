"""Raw table of the Meta side added by issue 13: ad account metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, PrimaryKeyConstraint, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from ..warehouse.tables import metadata

meta_ad_accounts_raw = Table(
    "meta_ad_accounts", metadata,
    Column("account_id", Text, nullable=False),  # act_ form, as tenants.yaml
    Column("account_name", Text),
    Column("currency", Text),
    Column("timezone_name", Text),
    Column("account_status", BigInteger),
    # The Graph API's answer as received (never carries the token).
    Column("payload", JSONB, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now(),
           info={"volatile": True}),
    PrimaryKeyConstraint("account_id"),
    schema="raw",
    comment="Meta ad account metadata (name, currency, time zone, status), refreshed daily.",
)
