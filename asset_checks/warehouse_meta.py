"""Checks of the Meta/Instagram model and mart, run with their materialization.

Blocking: a fact that lost or invented rows, spend or leads relative to staging, a fact key
with no dim row, or a mart that does not add up to its fact must not feed anything
downstream (the lead funnel, dashboards' refresh). Whole-table totals: a unit recompute
that went wrong anywhere shows here.
"""

from importlib import resources as pkg_resources

from dagster import AssetCheckResult, AssetCheckSpec, AssetKey

FACT_AD = AssetKey(["model", "fact_ad_insights_daily"])
FACT_IG = AssetKey(["model", "fact_ig_follows_daily"])
CAMPAIGN_MART = AssetKey(["mart", "campaign_performance_daily"])
RECONCILES = "reconciles_with_upstream"
KEYS_RESOLVE = "keys_resolve_to_dims"


def _sql(name: str) -> str:
    return pkg_resources.files("asset_checks").joinpath("sql", name).read_text(encoding="utf-8")


def fact_ad_specs() -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            RECONCILES,
            asset=FACT_AD,
            blocking=True,
            description="Rows, spend and leads equal staging.insights_meta_ads'.",
        ),
        AssetCheckSpec(
            KEYS_RESOLVE,
            asset=FACT_AD,
            blocking=True,
            description="Every account, campaign, ad set, ad and placement key has a dim row.",
        ),
    ]


def fact_ig_specs() -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            KEYS_RESOLVE,
            asset=FACT_IG,
            blocking=True,
            description="Every Instagram account of the fact has a dim_ig_account row.",
        )
    ]


def campaign_mart_specs() -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            RECONCILES,
            asset=CAMPAIGN_MART,
            blocking=True,
            description="Spend, leads and clicks add up to model.fact_ad_insights_daily's.",
        )
    ]


def evaluate_fact_ad(conn) -> list[AssetCheckResult]:
    staging_rows, fact_rows, staging_spend, fact_spend, staging_leads, fact_leads = conn.execute(
        _sql("fact_ad_vs_staging.sql")
    ).fetchone()
    dangling = conn.execute(_sql("fact_ad_keys_resolve.sql")).fetchone()[0]
    return [
        AssetCheckResult(
            check_name=RECONCILES,
            asset_key=FACT_AD,
            passed=(staging_rows, staging_spend, staging_leads) == (fact_rows, fact_spend, fact_leads),
            metadata={
                "staging_rows": staging_rows,
                "fact_rows": fact_rows,
                "staging_spend": float(staging_spend),
                "fact_spend": float(fact_spend),
                "staging_leads": int(staging_leads),
                "fact_leads": int(fact_leads),
            },
        ),
        AssetCheckResult(
            check_name=KEYS_RESOLVE,
            asset_key=FACT_AD,
            passed=dangling == 0,
            metadata={"rows_with_unresolved_keys": dangling},
        ),
    ]


def evaluate_fact_ig(conn) -> list[AssetCheckResult]:
    dangling = conn.execute(_sql("fact_ig_keys_resolve.sql")).fetchone()[0]
    return [
        AssetCheckResult(
            check_name=KEYS_RESOLVE,
            asset_key=FACT_IG,
            passed=dangling == 0,
            metadata={"rows_with_unresolved_keys": dangling},
        )
    ]


def evaluate_campaign_mart(conn) -> list[AssetCheckResult]:
    fact_spend, mart_spend, fact_leads, mart_leads, fact_clicks, mart_clicks = conn.execute(
        _sql("campaign_mart_vs_fact.sql")
    ).fetchone()
    return [
        AssetCheckResult(
            check_name=RECONCILES,
            asset_key=CAMPAIGN_MART,
            passed=(fact_spend, fact_leads, fact_clicks) == (mart_spend, mart_leads, mart_clicks),
            metadata={
                "fact_spend": float(fact_spend),
                "mart_spend": float(mart_spend),
                "fact_leads": int(fact_leads),
                "mart_leads": int(mart_leads),
                "fact_clicks": int(fact_clicks),
                "mart_clicks": int(mart_clicks),
            },
        )
    ]
