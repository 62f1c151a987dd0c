"""Model layer assets (Meta/Instagram side): dim_date, dim_tenant, the Meta Ads star
(account, campaign, ad set, ad and placement dims + fact_ad_insights_daily) and the
Instagram star (dim_ig_account + fact_ig_follows_daily).

Each star is one step: a unit's dims and facts are written in ONE transaction, so a fact
row is never committed without its dim rows. Units come from the change ledger (the
(ad account | IG account, day)s their upstream wrote since the last run); the SQL is in
sql/*.sql, applied by warehouse/refresh.py.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    MaterializeResult,
    asset,
    multi_asset,
)

from asset_checks import warehouse_meta as checks
from resources.warehouse import Warehouse

from ..settings import DEFAULT_TIMEZONE
from ..tenants import Tenants
from ..warehouse.incremental import ConsumerRun, Unit
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import refresh_units, run_sql, sql_file
from ..warehouse.tables import ig_follows_raw, insights_meta_ads
from ..warehouse.tables.model import (
    UNKNOWN_KEY,
    dim_ad,
    dim_ad_account,
    dim_adset,
    dim_campaign,
    dim_date,
    dim_ig_account,
    dim_placement,
    dim_tenant,
    fact_ad_insights_daily,
    fact_ig_follows_daily,
)
from .calendar import calendar_rows

GROUP = "model"
PACKAGE = "vetorial_assets.model"
KINDS = {"postgres", "sql"}
OWNERS = ["team:analytics-engineering"]

META_STAGING_KEY = AssetKey(["staging", "insights_meta_ads"])
META_ACCOUNTS_KEY = AssetKey(["raw", "meta_ad_accounts"])
IG_RAW_KEY = AssetKey(["raw", "ig_follows"])


def key(table) -> AssetKey:
    return AssetKey([table.schema, table.name])


DIM_DATE_KEY, DIM_TENANT_KEY = key(dim_date), key(dim_tenant)
META_STAR = (dim_ad_account, dim_campaign, dim_adset, dim_ad, dim_placement, fact_ad_insights_daily)
IG_STAR = (dim_ig_account, fact_ig_follows_daily)
FACT_AD_KEY, FACT_IG_KEY = key(fact_ad_insights_daily), key(fact_ig_follows_daily)
# How far dim_date reaches past today.
CALENDAR_AHEAD_DAYS = 366


def no_dep_failed_a_blocking_check() -> AutomationCondition:
    """No upstream partition's latest blocking check failed.

    Not `all_deps_blocking_checks_passed()`: upstream of these unpartitioned assets is
    partitioned by day x account, and a partition never pulled (most of them, since the
    partitions' start) has never been checked, so "passed everywhere" is never true."""
    return ~AutomationCondition.any_deps_match(
        AutomationCondition.any_checks_match(AutomationCondition.check_failed(), blocking_only=True)
    ).with_label("any_dep_failed_a_blocking_check")


def downstream_condition() -> AutomationCondition:
    """Eager: after any upstream materialization, once upstream's blocking checks passed.

    Without `any_deps_missing`: upstream is partitioned by day since the partitions' start,
    and some partition is always missing (never pulled); the ledger, not the partitions,
    says what to recompute."""
    return (
        AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()) & no_dep_failed_a_blocking_check()
    )


def root_condition() -> AutomationCondition:
    """Generated dims: built as soon as they are missing (a new deployment: on_missing would
    wait for them to *become* missing), not again after a failure until the daily refresh
    (the calendar moves on; tenants.yaml changes with a code reload)."""
    return AutomationCondition.on_cron("0 1 * * *", DEFAULT_TIMEZONE) | (
        AutomationCondition.missing() & ~AutomationCondition.in_progress() & ~AutomationCondition.execution_failed()
    )


def tenant_of(tenants: Tenants, account: str, attr: str = "meta_ad_accounts") -> str:
    """The tenant owning an ad (or IG) account; UNKNOWN_KEY when tenants.yaml lists none."""
    for tenant in tenants.tenants:
        if account in getattr(tenant, attr):
            return tenant.id
    return UNKNOWN_KEY


def _count(conn: psycopg.Connection, table) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table.schema}"."{table.name}"').fetchone()[0])  # constant names


def _counts(warehouse: Warehouse, tables) -> dict[str, int]:
    with warehouse.transaction() as conn:
        return {t.fullname: _count(conn, t) for t in tables}


def _star_results(warehouse: Warehouse, run: ConsumerRun, tables, fact, evaluate_checks) -> Iterator[MaterializeResult]:
    """One result per table of a star: the fact with its run's counts and its checks' results,
    each dim with the units processed."""
    counts = _counts(warehouse, tables)
    with warehouse.transaction() as conn:
        results = evaluate_checks(conn)
    for table in tables:
        extra = run.metadata(table.fullname) if table is fact else {"units_processed": run.units}
        yield MaterializeResult(
            asset_key=key(table),
            metadata=materialization_metadata(table, counts[table.fullname], **extra),
            check_results=results if table is fact else None,
        )


def _spec(table, deps, description: str, condition) -> AssetSpec:
    return AssetSpec(
        key(table),
        deps=deps,
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        metadata=table_definition_metadata(table),
        automation_condition=condition,
        description=description,
    )


# ----------------------------------------------------------------------------- Meta star


def build_meta_star(warehouse: Warehouse, tenants: Tenants, log=None):
    """The ad accounts' days staging changed: each unit's dims (upserts), then its fact rows."""

    def params(unit: Unit) -> dict:
        return {
            "tenant_id": tenant_of(tenants, unit.scope),
            "account_id": unit.scope,
            "first": unit.first,
            "last": unit.last,
        }

    def dims(conn: psycopg.Connection, params: dict) -> None:
        for name in ("dim_ad_account.sql", "dim_campaign.sql", "dim_adset.sql", "dim_ad.sql", "dim_placement.sql"):
            run_sql(conn, sql_file(PACKAGE, name), params)

    def before(conn: psycopg.Connection) -> None:
        run_sql(conn, sql_file(PACKAGE, "unknown_members.sql"), {})
        # Every configured account's metadata (raw.meta_ad_accounts changes daily, not by day).
        for account in tenants.ad_accounts:
            run_sql(
                conn,
                sql_file(PACKAGE, "dim_ad_account.sql"),
                {"tenant_id": tenant_of(tenants, account), "account_id": account},
            )

    return refresh_units(
        warehouse,
        fact_ad_insights_daily,
        sql_file(PACKAGE, "fact_ad_insights_daily.sql"),
        upstream=[insights_meta_ads],
        scope_column="account_id",
        params_of=params,
        before_unit=dims,
        before=before,
        log=log,
    )


# ----------------------------------------------------------------------------- Instagram star


def build_ig_star(warehouse: Warehouse, tenants: Tenants, log=None):
    """The IG accounts' days raw changed: each unit's account dim, then its fact rows."""

    def params(unit: Unit) -> dict:
        tenant = tenant_of(tenants, unit.scope, "instagram_accounts")
        return {
            "tenant_id": tenant,
            "ig_account_id": unit.scope,
            "is_inferred": tenant == UNKNOWN_KEY,
            "first": unit.first,
            "last": unit.last,
        }

    def before(conn: psycopg.Connection) -> None:
        for account in tenants.instagram_accounts:
            run_sql(
                conn,
                sql_file(PACKAGE, "dim_ig_account.sql"),
                {
                    "tenant_id": tenant_of(tenants, account, "instagram_accounts"),
                    "ig_account_id": account,
                    "is_inferred": False,
                },
            )

    return refresh_units(
        warehouse,
        fact_ig_follows_daily,
        sql_file(PACKAGE, "fact_ig_follows_daily.sql"),
        upstream=[ig_follows_raw],
        scope_column="ig_account_id",
        params_of=params,
        before_unit=lambda conn, params: run_sql(conn, sql_file(PACKAGE, "dim_ig_account.sql"), params),
        before=before,
        log=log,
    )


# ----------------------------------------------------------------------------- generated dims


def tenant_rows(tenants: Tenants) -> dict[str, list]:
    rows = [(UNKNOWN_KEY, "(desconhecido)", 0, 0, False, True)] + [
        (t.id, t.name, len(t.meta_ad_accounts), len(t.instagram_accounts), t.chatwoot is not None, False)
        for t in tenants.tenants
    ]
    names = ("tenant_id", "tenant_name", "meta_ad_accounts", "instagram_accounts", "has_chatwoot", "is_inferred")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def build_model_assets(tenants: Tenants, partitions_start: date) -> list:
    @asset(
        key=DIM_DATE_KEY,
        group_name=GROUP,
        kinds={"python", "postgres"},
        owners=OWNERS,
        metadata=table_definition_metadata(dim_date),
        automation_condition=root_condition(),
        description="Calendar from the partitions' start to today + 1 year: ISO week, pt-BR month and "
        "weekday names, Brazilian national holidays (python `holidays`), business days.",
    )
    def dim_date_asset(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        today = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
        result = warehouse.load(
            dim_date,
            [calendar_rows(partitions_start, today + timedelta(days=CALENDAR_AHEAD_DAYS))],
            lock=(DIM_DATE_KEY.to_user_string(),),
            logger=context.log,
        )
        return MaterializeResult(
            metadata=materialization_metadata(dim_date, warehouse.row_count(dim_date), **result.as_metadata())
        )

    @asset(
        key=DIM_TENANT_KEY,
        group_name=GROUP,
        kinds={"python", "postgres"},
        owners=OWNERS,
        metadata=table_definition_metadata(dim_tenant),
        automation_condition=root_condition(),
        description="The agency's clients from tenants.yaml, plus the unknown member '-1'.",
    )
    def dim_tenant_asset(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        result = warehouse.load(
            dim_tenant, [tenant_rows(tenants)], lock=(DIM_TENANT_KEY.to_user_string(),), logger=context.log
        )
        return MaterializeResult(
            metadata=materialization_metadata(dim_tenant, warehouse.row_count(dim_tenant), **result.as_metadata())
        )

    condition = downstream_condition()
    meta_deps = [META_STAGING_KEY, META_ACCOUNTS_KEY, DIM_TENANT_KEY]
    meta_specs = [
        _spec(
            dim_ad_account,
            meta_deps,
            "Meta ad accounts: currency and time zone from raw.meta_ad_accounts; "
            "an inferred member until the metadata arrives.",
            condition,
        ),
        _spec(dim_campaign, meta_deps, "Meta campaigns, named by their latest named day in staging.", condition),
        _spec(dim_adset, meta_deps, "Meta ad sets, named by their latest named day in staging.", condition),
        _spec(dim_ad, meta_deps, "Meta ads, named by their latest named day in staging.", condition),
        _spec(dim_placement, meta_deps, "Where ads were shown: publisher platform x position.", condition),
        _spec(
            fact_ad_insights_daily,
            meta_deps,
            "Meta Ads delivery per ad, placement and day (spend, impressions, "
            "reach, clicks, leads by origin, Instagram followers), recomputed for the days staging changed.",
            condition,
        ),
    ]

    @multi_asset(name="meta_ads_star", specs=meta_specs, check_specs=checks.fact_ad_specs(), can_subset=False)
    def meta_ads_star(context: AssetExecutionContext, warehouse: Warehouse):
        run = build_meta_star(warehouse, tenants, log=context.log)
        yield from _star_results(warehouse, run, META_STAR, fact_ad_insights_daily, checks.evaluate_fact_ad)

    ig_deps = [IG_RAW_KEY, DIM_TENANT_KEY]
    ig_specs = [
        _spec(
            dim_ig_account, ig_deps, "Instagram accounts (tenants.yaml), inferred when raw holds another.", condition
        ),
        _spec(
            fact_ig_follows_daily,
            ig_deps,
            "Instagram follows/unfollows per account and day; days without "
            "data flagged (has_data false, NULL metrics).",
            condition,
        ),
    ]

    @multi_asset(name="instagram_star", specs=ig_specs, check_specs=checks.fact_ig_specs(), can_subset=False)
    def instagram_star(context: AssetExecutionContext, warehouse: Warehouse):
        run = build_ig_star(warehouse, tenants, log=context.log)
        yield from _star_results(warehouse, run, IG_STAR, fact_ig_follows_daily, checks.evaluate_fact_ig)

    return [dim_date_asset, dim_tenant_asset, meta_ads_star, instagram_star]
