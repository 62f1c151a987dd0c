"""The change ledger's table contracts (ops) and how a table is tracked (`track_changes`,
called by each layer module for its tracked tables).

`ops.changed_days` receives, from statement-level triggers (ledger_sql/record_changed_days.sql),
one row per distinct (scope, day) each statement on a tracked table touched; consumers keep
how far they read in `ops.ledger_cursors` (warehouse/ledger.py reads and advances them).

A tracked table gets its triggers with the table (`after_create`), so a warehouse created
in one pass is current by construction; migration 0010 adds them to older warehouses.
"""

from __future__ import annotations

from importlib import resources as pkg_resources

from psycopg import sql
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import UserDefinedType

from .base import metadata


class Xid8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (never wraps)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "xid8"


changed_days = Table(
    "changed_days",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("table_name", Text, nullable=False),  # schema.table of the tracked table
    # What the table's rows carry: tenant_id, ad account id or IG account id.
    Column("scope", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The writing transaction: ids do not commit in order (an id is drawn while its
    # transaction still runs), so a consumer also re-reads the transactions that were
    # running when it last read (ledger.py).
    Column("xid", Xid8, nullable=False, server_default=func.pg_current_xact_id()),
    schema="ops",
    comment="Change ledger: per statement on a tracked table, each distinct (scope, day) it wrote.",
)
Index("ix_changed_days_table_id", changed_days.c.table_name, changed_days.c.id)
Index("ix_changed_days_xid", changed_days.c.xid)

ledger_cursors = Table(
    "ledger_cursors",
    metadata,
    Column("consumer", Text, nullable=False),  # the consuming asset's key, e.g. mart/lead_funnel_daily
    Column("table_name", Text, nullable=False),
    # The highest ops.changed_days id the consumer had seen (committed) when it read.
    Column("last_id", BigInteger, nullable=False),
    # The transactions still running when it read: their rows may have lower ids than
    # last_id; the next run reads them too.
    Column("running_xids", ARRAY(Xid8), nullable=False, server_default="{}"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "table_name"),
    schema="ops",
    comment="Change ledger: how far each consumer asset has read each upstream table's changes.",
)

TRIGGERS = (
    ("changed_days_insert", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    ("changed_days_update", "UPDATE", "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows"),
    ("changed_days_delete", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
)


def function_sql() -> str:
    return (
        pkg_resources.files("vetorial_assets.warehouse")
        .joinpath("ledger_sql", "record_changed_days.sql")
        .read_text(encoding="utf-8")
    )


def trigger_statements(table: Table) -> list[sql.Composed]:
    scope, day, *fallback = table.info["ledger"]
    args = sql.SQL(", ").join(sql.Literal(a) for a in (scope, day, *fallback))
    return [
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table} {ref} FOR EACH STATEMENT "
            "EXECUTE FUNCTION ops.record_changed_days({args})"
        ).format(
            name=sql.Identifier(name),
            event=sql.SQL(event),
            table=sql.Identifier(table.schema, table.name),
            ref=sql.SQL(ref),
            args=args,
        )
        for name, event, ref in TRIGGERS
    ]


def _create_triggers(table: Table, connection, **_kw) -> None:
    pg = connection.connection.driver_connection
    connection.exec_driver_sql(function_sql())
    for statement in trigger_statements(table):
        connection.exec_driver_sql(statement.as_string(pg))


def track_changes(table: Table, scope: str, day: str, day_fallback: str | None = None) -> Table:
    """Record the (scope, day) units every write to `table` touches in ops.changed_days.
    `day_fallback`: a timestamptz column whose local date stands in for a NULL day."""
    table.info["ledger"] = (scope, day, *([day_fallback] if day_fallback else []))
    event.listen(table, "after_create", _create_triggers)
    return table


def tracked_tables() -> list[Table]:
    return [t for t in metadata.sorted_tables if "ledger" in t.info]
