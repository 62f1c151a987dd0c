"""Checks of the conversation model and the lead funnel, run with their materialization.

Blocking: a fact that lost or invented conversations relative to staging, or whose inbox or
contact key has no dim row, must not feed the marts. The funnel must add up to both facts
(conversations, spend, ad leads). Whole-table totals: a unit recompute that went wrong
anywhere shows here.
"""

from importlib import resources as pkg_resources

from dagster import AssetCheckResult, AssetCheckSpec, AssetKey

FACT = AssetKey(["model", "fact_conversations"])
FUNNEL = AssetKey(["mart", "lead_funnel_daily"])
RECONCILES = "reconciles_with_upstream"
KEYS_RESOLVE = "keys_resolve_to_dims"


def _sql(name: str) -> str:
    return pkg_resources.files("asset_checks").joinpath("sql", name).read_text(encoding="utf-8")


def fact_specs() -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            RECONCILES, asset=FACT, blocking=True, description="Rows and live rows equal staging.conversations'."
        ),
        AssetCheckSpec(
            KEYS_RESOLVE, asset=FACT, blocking=True, description="Every inbox and contact key has a dim row."
        ),
    ]


def funnel_specs() -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            RECONCILES,
            asset=FUNNEL,
            blocking=True,
            description="Conversations started equal the fact's live conversations; spend and ad "
            "leads equal model.fact_ad_insights_daily's.",
        )
    ]


def evaluate_fact(conn) -> list[AssetCheckResult]:
    staging_rows, fact_rows, staging_live, fact_live = conn.execute(
        _sql("fact_conversations_vs_staging.sql")
    ).fetchone()
    dangling = conn.execute(_sql("fact_conversations_keys_resolve.sql")).fetchone()[0]
    return [
        AssetCheckResult(
            check_name=RECONCILES,
            asset_key=FACT,
            passed=(staging_rows, staging_live) == (fact_rows, fact_live),
            metadata={
                "staging_rows": staging_rows,
                "fact_rows": fact_rows,
                "staging_live_rows": staging_live,
                "fact_live_rows": fact_live,
            },
        ),
        AssetCheckResult(
            check_name=KEYS_RESOLVE,
            asset_key=FACT,
            passed=dangling == 0,
            metadata={"rows_with_unresolved_keys": dangling},
        ),
    ]


def evaluate_funnel(conn) -> list[AssetCheckResult]:
    fact_conv, funnel_conv, fact_spend, funnel_spend, fact_leads, funnel_leads = conn.execute(
        _sql("lead_funnel_vs_facts.sql")
    ).fetchone()
    return [
        AssetCheckResult(
            check_name=RECONCILES,
            asset_key=FUNNEL,
            passed=(fact_conv, fact_spend, fact_leads) == (funnel_conv, funnel_spend, funnel_leads),
            metadata={
                "fact_conversations": int(fact_conv),
                "funnel_conversations": int(funnel_conv),
                "fact_spend": float(fact_spend),
                "funnel_spend": float(funnel_spend),
                "fact_ad_leads": int(fact_leads),
                "funnel_ad_leads": int(funnel_leads),
            },
        )
    ]
