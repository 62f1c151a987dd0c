"""staging/conversations: raw.conversas_analytics per tenant, typed and LGPD-anonymised.

Incremental by the change ledger: a run recomputes the tenant's local days whose raw rows
changed since its last run (one transaction per day; the first run, the whole tenant in
one). The pure rules are in conversation_rules.py."""

from collections.abc import Callable, Iterator

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    MaterializeResult,
    StaticPartitionsDefinition,
    asset,
)
from psycopg.rows import dict_row

from resources.load.rejections import NULLED, Quarantine, Rejection, shown_value
from resources.warehouse import Warehouse

from ..settings import lgpd_salt, load_settings
from ..warehouse.incremental import FIRST_DAY, Unit, day_units, run_consumer
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import sql_file
from ..warehouse.tables import conversations
from . import conversation_rules as rules

KEY = AssetKey(["staging", "conversations"])
RAW_KEY = AssetKey(["raw", "conversas_analytics"])
RAW_TABLE = "raw.conversas_analytics"
GROUP = "staging"
OWNERS = ["team:analytics-engineering"]
JOB_NAME = "conversation_staging"


def consumer_name(tenant_id: str) -> str:
    return f"staging/conversations/{tenant_id}"


def query_chunks(
    conn: psycopg.Connection, statement: str, params: dict, convert: Callable[[dict], dict], size: int = 10_000
) -> Iterator[list[dict]]:
    """The rows of `statement`, converted, in chunks, through a server-side cursor of the
    caller's transaction (bounded memory whatever the tenant's size)."""
    with conn.cursor(name="staging_conversations_rows", row_factory=dict_row) as cur:
        cur.itersize = size
        cur.execute(statement, params)
        while rows := cur.fetchmany(size):
            yield [convert(r) for r in rows]


def build_tenant(warehouse: Warehouse, tenant_id: str, salt: bytes, run_id: str | None = None):
    """Recompute the tenant's changed days (or all of them on the first run)."""
    statement = sql_file("vetorial_assets.staging", "raw_conversations.sql")

    def recompute(conn: psycopg.Connection, unit: Unit):
        tenant = unit.scope
        days = None if unit.first == FIRST_DAY else [unit.first]
        quarantine = Quarantine(KEY.to_user_string(), tenant, run_id)

        def convert(raw: dict) -> dict:
            row, problems = rules.to_staging(raw, salt)
            for column, reason, value in problems:
                quarantine.found.append(
                    Rejection(
                        conversations.fullname,
                        {"conversation_id": raw["conversation_id"]},
                        column,
                        reason,
                        shown_value(value),
                        NULLED,
                    )
                )
            return row

        chunks = query_chunks(conn, statement, {"tenant": tenant, "days": days}, convert)
        scope = {"tenant_id": tenant} if days is None else {"tenant_id": tenant, "conversation_date": days}
        return {
            conversations.fullname: warehouse.load(
                conversations, chunks, replace_scope=scope, conn=conn, quarantine=quarantine
            )
        }

    return run_consumer(
        warehouse,
        consumer_name(tenant_id),
        [RAW_TABLE],
        full_scopes=lambda conn: [tenant_id],
        units_of=lambda changes: day_units(u for u in changes.units[RAW_TABLE] if u[0] == tenant_id),
        recompute=recompute,
    )


def build_staging_assets(partitions: StaticPartitionsDefinition):
    @asset(
        key=KEY,
        deps=[RAW_KEY],
        partitions_def=partitions,
        group_name=GROUP,
        automation_condition=AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed(),
        kinds={"python", "postgres"},
        owners=OWNERS,
        metadata=table_definition_metadata(conversations),
        description="Chatwoot conversations per tenant: typed, LGPD-anonymised (contact_key), local dates; "
        "deleted conversations flagged. Recomputes only the days whose raw rows changed.",
    )
    def staging_conversations(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        salt = lgpd_salt(load_settings())
        tenant_id = context.partition_key
        run = build_tenant(warehouse, tenant_id, salt, context.run_id)
        rows = warehouse.row_count(conversations, {"tenant_id": tenant_id})
        total = run.total(conversations.fullname)
        context.log.info(
            f"staging.conversations {tenant_id}: {run.units} unit(s), {total.inserted} inserted, "
            f"{total.updated} updated, {total.deleted} deleted"
        )
        return MaterializeResult(
            metadata=materialization_metadata(conversations, rows, **run.metadata(conversations.fullname))
        )

    return [staging_conversations]


def build_staging_job(partitions: StaticPartitionsDefinition):
    from dagster import AssetSelection, define_asset_job

    return define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(KEY),
        partitions_def=partitions,
        description="staging/conversations of one tenant, for what changed in raw (declarative "
        "automation runs it on its own; this is for the demo and manual runs).",
    )
