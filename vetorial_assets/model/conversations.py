"""model/dim_inbox, model/dim_contact, model/fact_conversations: the conversation side of
the star, from staging.conversations, incremental by the change ledger.

One consumer for the three tables: each unit (tenant, day) recomputes, in one
transaction, the dims its fact rows need and then the fact rows, so a fact key always has
its dim row when the transaction commits."""

import psycopg
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from asset_checks import warehouse_conversations as checks
from resources.load.contract import LoadResult
from resources.warehouse import Warehouse

from ..staging.conversations import KEY as STAGING_KEY
from ..warehouse.incremental import FIRST_DAY, LAST_DAY, Unit, day_units, run_consumer
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.refresh import refresh_scope, run_sql, sql_file
from ..warehouse.tables.model import UNKNOWN_NAME, dim_contact, dim_inbox, fact_conversations
from .assets import OWNERS, downstream_condition

CONSUMER = "model/conversations"
STAGING_TABLE = "staging.conversations"
GROUP = "model"
KEYS = {t.fullname: AssetKey(["model", t.name]) for t in (dim_inbox, dim_contact, fact_conversations)}
TABLES = {t.fullname: t for t in (dim_inbox, dim_contact, fact_conversations)}


def _sql(name: str) -> str:
    return sql_file("vetorial_assets.model", name)


def recompute(conn: psycopg.Connection, unit: Unit) -> dict:
    params = {"tenant": unit.scope, "first": unit.first, "last": unit.last, "unknown": UNKNOWN_NAME}
    inbox_rows = run_sql(conn, _sql("dim_inbox.sql"), params)
    if unit.first == FIRST_DAY and unit.last == LAST_DAY:
        contacts = None
        contact_scope = {"tenant_id": unit.scope}
    else:
        contacts = [r[0] for r in conn.execute(_sql("dim_contact_keys.sql"), params).fetchall()]
        contact_scope = {"tenant_id": unit.scope, "contact_key": contacts}
    contact = refresh_scope(conn, dim_contact, _sql("dim_contact.sql"), {**params, "contacts": contacts}, contact_scope)
    fact = refresh_scope(
        conn,
        fact_conversations,
        _sql("fact_conversations.sql"),
        params,
        {"tenant_id": unit.scope, "conversation_date": (unit.first, unit.last)},
    )
    # The dim upsert reports rows written (inserted or updated), not which.
    return {
        dim_inbox.fullname: LoadResult(dim_inbox.fullname, inbox_rows, 0, inbox_rows, 0),
        dim_contact.fullname: contact,
        fact_conversations.fullname: fact,
    }


def build(warehouse: Warehouse, log=None):
    return run_consumer(
        warehouse,
        CONSUMER,
        [STAGING_TABLE],
        full_scopes=lambda conn: [
            r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM staging.conversations ORDER BY 1").fetchall()
        ],
        units_of=lambda changes: day_units(changes.units[STAGING_TABLE]),
        recompute=recompute,
        log=log,
    )


def build_model_conversation_assets():
    @multi_asset(
        specs=[
            AssetSpec(
                KEYS[name],
                deps=[STAGING_KEY],
                group_name=GROUP,
                kinds={"postgres", "sql"},
                owners=OWNERS,
                automation_condition=downstream_condition(),
                metadata=table_definition_metadata(table),
                description=table.comment,
            )
            for name, table in TABLES.items()
        ],
        name="model_conversations",
        can_subset=False,
        check_specs=checks.fact_specs(),
    )
    def model_conversations(context: AssetExecutionContext, warehouse: Warehouse):
        run = build(warehouse, log=context.log)
        with warehouse.transaction() as conn:
            results = checks.evaluate_fact(conn)
        for name, table in TABLES.items():
            rows = warehouse.row_count(table)
            yield MaterializeResult(
                asset_key=KEYS[name],
                metadata=materialization_metadata(table, rows, **run.metadata(name)),
                check_results=results if table is fact_conversations else None,
            )

    return [model_conversations]
