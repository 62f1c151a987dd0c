"""Staging layer: a source's rows cleaned and typed (contracts existing dashboards read)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from .base import fetched_at, metadata

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
