"""mart/conversation_service_daily, mart/conversation_growth_monthly and
mart/lead_funnel_daily: incremental by the change ledger (one transaction per unit), each
materialization with a Markdown preview of its newest rows."""

from collections.abc import Callable, Iterable, Sequence

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)
from sqlalchemy import Table

from asset_checks import warehouse_conversations as checks
from resources.warehouse import Warehouse

from ..model.assets import OWNERS, downstream_condition
from ..model.conversations import KEYS as MODEL_KEYS
from ..warehouse import ledger
from ..warehouse.incremental import Unit, day_units
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import distinct_scopes, refresh_units, sql_file
from ..warehouse.tables.mart import conversation_growth_monthly, conversation_service_daily, lead_funnel_daily
from ..warehouse.tables.model import fact_ad_insights_daily, fact_conversations
from .preview import markdown_preview

GROUP = "mart"
FACT_CONVERSATIONS, FACT_ADS = fact_conversations.fullname, fact_ad_insights_daily.fullname
FACT_CONVERSATIONS_KEY = AssetKey(["model", "fact_conversations"])
FACT_ADS_KEY = AssetKey(["model", "fact_ad_insights_daily"])


def key_of(table: Table) -> AssetKey:
    return AssetKey(["mart", table.name])


def _month_units(units: Iterable[ledger.Unit]) -> list[Unit]:
    return day_units(ledger.months_and_next(units))


def build_mart(
    warehouse: Warehouse,
    table: Table,
    sql_name: str,
    upstream: Sequence[Table],
    units_of: Callable[[ledger.Changes], list[Unit]],
    day_column: str,
    log=None,
):
    """A tenant's days (or months, their first day) of `table`, recomputed by `sql_name`."""
    return refresh_units(
        warehouse,
        table,
        sql_file("vetorial_assets.mart", sql_name),
        upstream=upstream,
        scope_column="tenant_id",
        day_column=day_column,
        units_of=units_of,
        params_of=lambda unit: {"tenant": unit.scope, "first": unit.first, "last": unit.last},
        full_scopes=distinct_scopes("tenant_id", upstream),
        log=log,
    )


def build_service_daily(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        conversation_service_daily,
        "conversation_service_daily.sql",
        [fact_conversations],
        lambda c: day_units(c.units[FACT_CONVERSATIONS]),
        "day",
        log,
    )


def build_growth_monthly(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        conversation_growth_monthly,
        "conversation_growth_monthly.sql",
        [fact_conversations],
        lambda c: _month_units(c.units[FACT_CONVERSATIONS]),
        "month",
        log,
    )


def build_lead_funnel(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        lead_funnel_daily,
        "lead_funnel_daily.sql",
        [fact_ad_insights_daily, fact_conversations],
        lambda c: day_units(c.units[FACT_ADS] | c.units[FACT_CONVERSATIONS]),
        "day",
        log,
    )


MARTS = (
    # table, builder, upstream asset keys, preview columns, newest first by
    (
        conversation_service_daily,
        build_service_daily,
        [FACT_CONVERSATIONS_KEY],
        [
            "tenant_id",
            "day",
            "inbox_id",
            "conversations",
            "unique_contacts",
            "first_reply_median_seconds",
            "first_reply_p90_seconds",
            "resolved_share",
            "ai_score_median",
        ],
        ["day", "tenant_id", "inbox_id"],
    ),
    (
        conversation_growth_monthly,
        build_growth_monthly,
        [FACT_CONVERSATIONS_KEY],
        ["tenant_id", "month", "conversations", "unique_contacts", "prev_month_conversations", "growth_pct"],
        ["month", "tenant_id"],
    ),
    (
        lead_funnel_daily,
        build_lead_funnel,
        [FACT_ADS_KEY, FACT_CONVERSATIONS_KEY],
        [
            "tenant_id",
            "day",
            "spend",
            "ad_leads",
            "conversations_started",
            "qualified_leads",
            "visits_scheduled",
            "crm_conversions",
            "cost_per_ad_lead",
            "cost_per_conversation",
            "cost_per_qualified_lead",
        ],
        ["day", "tenant_id"],
    ),
)


def _mart_asset(table: Table, builder, deps: list[AssetKey], preview_columns: list[str], newest: list[str]):
    is_funnel = table is lead_funnel_daily

    @asset(
        key=key_of(table),
        deps=deps,
        group_name=GROUP,
        automation_condition=downstream_condition(),
        kinds={"postgres", "sql"},
        owners=OWNERS,
        metadata=table_definition_metadata(table),
        description=table.comment,
        check_specs=checks.funnel_specs() if is_funnel else None,
    )
    def mart_asset(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        run = builder(warehouse, log=context.log)
        with warehouse.transaction() as conn:
            preview = markdown_preview(conn, table, preview_columns, newest)
            results = checks.evaluate_funnel(conn) if is_funnel else None
        rows = warehouse.row_count(table)
        return MaterializeResult(
            metadata=materialization_metadata(
                table, rows, **run.metadata(table.fullname), preview=MetadataValue.md(preview)
            ),
            check_results=results,
        )

    return mart_asset


def build_mart_conversation_assets():
    return [_mart_asset(*spec) for spec in MARTS]


LAYERS_JOB = "conversation_warehouse_layers"


def build_conversation_layers_job():
    marts = [key_of(spec[0]) for spec in MARTS]
    return define_asset_job(
        LAYERS_JOB,
        selection=AssetSelection.assets(*MODEL_KEYS.values(), *marts),
        description="The conversation model and marts and the lead funnel, for what changed "
        "upstream (declarative automation runs them on its own; this is for the "
        "demo and manual runs).",
    )
