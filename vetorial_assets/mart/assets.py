"""Mart assets (Meta/Instagram side): campaign_performance_daily and instagram_growth_daily.

Recomputed for the units their facts changed (the change ledger): a tenant's day for the
campaign mart; for Instagram growth an account from its earliest changed day on, because a
day's net moves the cumulative of every later day and the 7-day average of the 6 after it.
Each materialization carries a Markdown preview of the newest rows.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    define_asset_job,
    multi_asset,
)

from asset_checks import warehouse_meta as checks
from resources.warehouse import Warehouse

from ..model.assets import (
    DIM_DATE_KEY,
    DIM_TENANT_KEY,
    FACT_AD_KEY,
    FACT_IG_KEY,
    IG_STAR,
    META_STAR,
    downstream_condition,
    key,
)
from ..warehouse.incremental import LAST_DAY, Unit
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import refresh_units, sql_file
from ..warehouse.tables.mart import campaign_performance_daily, instagram_growth_daily
from ..warehouse.tables.model import dim_ad_account, dim_campaign, fact_ad_insights_daily, fact_ig_follows_daily
from .preview import markdown_preview

GROUP = "mart"
PACKAGE = "vetorial_assets.mart"
OWNERS = ["team:analytics-engineering"]
CAMPAIGN_KEY, IG_GROWTH_KEY = key(campaign_performance_daily), key(instagram_growth_daily)
CAMPAIGN_PREVIEW = [
    "date",
    "tenant_id",
    "account_id",
    "campaign_id",
    "spend",
    "impressions",
    "clicks",
    "ctr",
    "cpc",
    "leads_total",
    "cpl",
    "spend_facebook",
    "spend_instagram",
]
IG_PREVIEW = [
    "date",
    "tenant_id",
    "ig_account_id",
    "has_data",
    "follows",
    "unfollows",
    "net",
    "cumulative_net",
    "net_7d_avg",
]


def build_campaign_performance(warehouse: Warehouse, log=None):
    """A tenant's days the ad fact changed."""
    return refresh_units(
        warehouse,
        campaign_performance_daily,
        sql_file(PACKAGE, "campaign_performance_daily.sql"),
        upstream=[fact_ad_insights_daily],
        scope_column="tenant_id",
        log=log,
    )


def growth_units(changes) -> list[Unit]:
    """Per IG account: from its earliest changed day to the end (cumulative and 7-day average)."""
    first: dict[str, object] = {}
    for scope, day in changes.all_units():
        first[scope] = min(day, first.get(scope, day))
    return sorted(Unit(scope, day, LAST_DAY) for scope, day in first.items())


def build_instagram_growth(warehouse: Warehouse, log=None):
    return refresh_units(
        warehouse,
        instagram_growth_daily,
        sql_file(PACKAGE, "instagram_growth_daily.sql"),
        upstream=[fact_ig_follows_daily],
        scope_column="ig_account_id",
        units_of=growth_units,
        log=log,
    )


def _result(
    warehouse: Warehouse, table, run, preview_columns: list[str], newest_first: list[str], evaluate_checks=None
) -> MaterializeResult:
    with warehouse.transaction() as conn:
        rows = int(conn.execute(f'SELECT count(*) FROM "{table.schema}"."{table.name}"').fetchone()[0])  # constant
        preview = markdown_preview(conn, table, preview_columns, newest_first)
        results = evaluate_checks(conn) if evaluate_checks else None
    return MaterializeResult(
        asset_key=key(table),
        metadata=materialization_metadata(
            table, rows, **run.metadata(table.fullname), preview=MetadataValue.md(preview)
        ),
        check_results=results,
    )


def layer_keys() -> list[AssetKey]:
    """Every model and mart asset of the Meta/Instagram side, in dependency order."""
    return [
        DIM_DATE_KEY,
        DIM_TENANT_KEY,
        *(key(t) for t in META_STAR),
        *(key(t) for t in IG_STAR),
        CAMPAIGN_KEY,
        IG_GROWTH_KEY,
    ]


LAYERS_JOB = "meta_warehouse_layers"


def build_layers_job():
    return define_asset_job(
        LAYERS_JOB,
        selection=AssetSelection.assets(*layer_keys()),
        description="Model and marts of Meta Ads and Instagram, for what changed upstream "
        "(declarative automation runs them on its own; this is for the demo and "
        "manual runs).",
    )


def build_mart_assets() -> list:
    condition = downstream_condition()
    campaign_spec = AssetSpec(
        CAMPAIGN_KEY,
        deps=[FACT_AD_KEY, key(dim_campaign), key(dim_ad_account)],
        group_name=GROUP,
        kinds={"postgres", "sql"},
        owners=OWNERS,
        metadata=table_definition_metadata(campaign_performance_daily),
        automation_condition=condition,
        description="Meta Ads per tenant, day, ad account and campaign: spend, impressions, reach (summed daily "
        "reach, not unique people), clicks, CTR, CPC, leads by origin, CPL, Facebook vs Instagram.",
    )
    growth_spec = AssetSpec(
        IG_GROWTH_KEY,
        deps=[FACT_IG_KEY],
        group_name=GROUP,
        kinds={"postgres", "sql"},
        owners=OWNERS,
        metadata=table_definition_metadata(instagram_growth_daily),
        automation_condition=condition,
        description="Instagram growth per tenant, day and account: follows, unfollows, net, cumulative net, "
        "7-day average net.",
    )

    @multi_asset(name="campaign_performance_daily", specs=[campaign_spec], check_specs=checks.campaign_mart_specs())
    def campaign_performance(context: AssetExecutionContext, warehouse: Warehouse):
        run = build_campaign_performance(warehouse, log=context.log)
        yield _result(
            warehouse,
            campaign_performance_daily,
            run,
            CAMPAIGN_PREVIEW,
            ["date", "spend"],
            checks.evaluate_campaign_mart,
        )

    @multi_asset(name="instagram_growth_daily", specs=[growth_spec])
    def instagram_growth(context: AssetExecutionContext, warehouse: Warehouse):
        run = build_instagram_growth(warehouse, log=context.log)
        yield _result(warehouse, instagram_growth_daily, run, IG_PREVIEW, ["date", "ig_account_id"])

    return [campaign_performance, instagram_growth]
