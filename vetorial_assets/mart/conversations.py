"""mart/conversation_service_daily, mart/conversation_growth_monthly and
mart/lead_funnel_daily: incremental by the change ledger (one transaction per unit), each
materialization with a Markdown preview of its newest rows."""

from collections.abc import Callable, Iterable, Sequence

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)
from psycopg import sql
from sqlalchemy import Table

from asset_checks import warehouse_conversations as checks
from resources.warehouse import Warehouse

from ..model.assets import OWNERS, downstream_condition
from ..model.conversations import KEYS as MODEL_KEYS
from ..warehouse import ledger
from ..warehouse.incremental import LAST_DAY, Unit, day_units, run_consumer
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import refresh_scope, sql_file
from ..warehouse.tables.mart import conversation_growth_monthly, conversation_service_daily, lead_funnel_daily
from .preview import markdown_preview

GROUP = "mart"
FACT_CONVERSATIONS = "model.fact_conversations"
FACT_ADS = "model.fact_ad_insights_daily"
FACT_CONVERSATIONS_KEY = AssetKey(["model", "fact_conversations"])
FACT_ADS_KEY = AssetKey(["model", "fact_ad_insights_daily"])


def key_of(table: Table) -> AssetKey:
    return AssetKey(["mart", table.name])


def _tenants(*tables: str) -> Callable[[psycopg.Connection], list[str]]:
    def scopes(conn: psycopg.Connection) -> list[str]:
        found: set[str] = set()
        for table in tables:
            schema, name = table.split(".")
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            found.update(
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT DISTINCT tenant_id FROM {}").format(sql.Identifier(schema, name))
                ).fetchall()
            )
        return sorted(found)

    return scopes


def _month_units(units: Iterable[ledger.Unit]) -> list[Unit]:
    return day_units(ledger.months_and_next(units))


def _monthly(unit: Unit) -> Unit:
    """A full build's unit covers every month; an incremental one is one month (its first day)."""
    return unit if unit.last == LAST_DAY else Unit(unit.scope, unit.first, unit.first)


def build_mart(
    warehouse: Warehouse,
    table: Table,
    sql_name: str,
    upstream: Sequence[str],
    units_of: Callable[[ledger.Changes], list[Unit]],
    scope_column: str,
    log=None,
    unit_of: Callable[[Unit], Unit] = lambda u: u,
):
    query = sql_file("vetorial_assets.mart", sql_name)

    def recompute(conn: psycopg.Connection, unit: Unit) -> dict:
        unit = unit_of(unit)
        params = {"tenant": unit.scope, "first": unit.first, "last": unit.last}
        return {
            table.fullname: refresh_scope(
                conn, table, query, params, {"tenant_id": unit.scope, scope_column: (unit.first, unit.last)}
            )
        }

    return run_consumer(
        warehouse,
        f"mart/{table.name}",
        list(upstream),
        full_scopes=_tenants(*upstream),
        units_of=units_of,
        recompute=recompute,
        log=log,
    )


def build_service_daily(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        conversation_service_daily,
        "conversation_service_daily.sql",
        [FACT_CONVERSATIONS],
        lambda c: day_units(c.units[FACT_CONVERSATIONS]),
        "day",
        log,
    )


def build_growth_monthly(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        conversation_growth_monthly,
        "conversation_growth_monthly.sql",
        [FACT_CONVERSATIONS],
        lambda c: _month_units(c.units[FACT_CONVERSATIONS]),
        "month",
        log,
        unit_of=_monthly,
    )


def build_lead_funnel(warehouse: Warehouse, log=None):
    return build_mart(
        warehouse,
        lead_funnel_daily,
        "lead_funnel_daily.sql",
        [FACT_ADS, FACT_CONVERSATIONS],
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
