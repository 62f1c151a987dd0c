"""Recompute one scope of a derived table (model, mart) from a SQL SELECT, set-based.

The SELECT (a `.sql` file next to the asset, psycopg `%(name)s` parameters) is written
into a temp stage shaped like the target, then applied with the load path's own merge
(resources/load/merge.py): rows identical to the stored ones are left untouched (no new row
version, no WAL, no trigger row for the change ledger), changed ones updated, new ones
inserted, and rows of the scope the SELECT no longer yields deleted. The rows never leave
the server: a unit or a full build is a handful of statements, whatever its size.

A scope with no stored rows at all (a first build) skips the stage and the merge: the
SELECT is inserted straight into the target.

`refresh_units` runs that for every unit the change ledger says a derived table's upstream
changed (warehouse/incremental.py: one transaction per unit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources as pkg_resources
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from sqlalchemy import Table

from resources.load.contract import LoadResult, describe_table
from resources.load.merge import delete_outside_batch, merge_statement, scope_clause, scope_delete, target_empty

from .incremental import ConsumerRun, Unit, day_units, run_consumer
from .ledger import Changes

if TYPE_CHECKING:  # the resource (a layer above) is handed in; only its methods are used
    from resources.warehouse import Warehouse


@cache
def sql_file(package: str, name: str) -> str:
    """The text of `<package>/sql/<name>` (cached: read once per process)."""
    return pkg_resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")


def refresh_scope(
    conn: psycopg.Connection, table: Table, query: str, params: Mapping[str, Any], scope: Mapping[str, Any]
) -> LoadResult:
    """Make the rows of `table` within `scope` equal to what `query` yields (on `conn`, in
    the caller's transaction). `query` must yield only rows inside `scope`, with the
    target's column names (any order)."""
    target = describe_table(conn, table.schema, table.name, [c.name for c in table.columns if c.info.get("volatile")])
    names = [c.name for c in target.columns]
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    select = sql.SQL("SELECT {cols} FROM ({query}) AS q").format(cols=cols, query=sql.SQL(query))
    # The scope's parameters apart from the query's own (`_s0`, …).
    where, scope_params = scope_clause(target, scope, "t", prefix="_s")
    params = {**params, **scope_params}

    if target_empty(conn, target, scope):  # nothing to compare with or delete: insert as it comes
        cur = conn.execute(sql.SQL("INSERT INTO {} ({}) ").format(target.ident, cols) + select, params)
        return LoadResult(target.qualified, cur.rowcount, cur.rowcount, 0, 0, 0)

    stage = sql.Identifier(f"_refresh_{table.name}")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(stage, target.ident))
    rows = conn.execute(sql.SQL("INSERT INTO {} ({}) ").format(stage, cols) + select, params).rowcount
    conn.execute(sql.SQL("ANALYZE {} ({})").format(stage, sql.SQL(", ").join(map(sql.Identifier, target.key))))
    inserted, updated = conn.execute(
        merge_statement(target, stage, list(target.columns), conn.info.server_version)
    ).fetchone()
    # A hash anti-join whatever the statistics say (merge.delete_outside_batch).
    deleted = delete_outside_batch(conn, scope_delete(target, stage, where), params)
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    return LoadResult(target.qualified, rows, int(inserted), int(updated), rows - int(inserted) - int(updated), deleted)


def run_sql(conn: psycopg.Connection, query: str, params: Mapping[str, Any]) -> int:
    """Run one parameterised statement (a dim upsert); its row count."""
    return conn.execute(sql.SQL(query), params).rowcount


def distinct_scopes(column: str, tables: Sequence[Table]) -> Callable[[psycopg.Connection], list[str]]:
    """Every value of `column` in `tables` (those that exist), sorted: a full build's scopes."""

    def scopes(conn: psycopg.Connection) -> list[str]:
        found: set[str] = set()
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", (table.fullname,)).fetchone()[0] is None:
                continue
            found.update(
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT DISTINCT {} FROM {}").format(
                        sql.Identifier(column), sql.Identifier(table.schema, table.name)
                    )
                ).fetchall()
            )
        return sorted(found)

    return scopes


def changed_days(changes: Changes) -> list[Unit]:
    """One unit per (scope, day) any upstream table changed."""
    return day_units(changes.all_units())


def refresh_units(
    warehouse: Warehouse,
    table: Table,
    query: str,
    *,
    upstream: Sequence[Table],
    scope_column: str,
    day_column: str = "date",
    units_of: Callable[[Changes], list[Unit]] = changed_days,
    params_of: Callable[[Unit], dict[str, Any]] | None = None,
    full_scopes: Callable[[psycopg.Connection], list[str]] | None = None,
    before_unit: Callable[[psycopg.Connection, dict[str, Any]], None] | None = None,
    before: Callable[[psycopg.Connection], None] | None = None,
    log=None,
) -> ConsumerRun:
    """Recompute `table` from `query` for the units its `upstream` tables changed: the
    consumer "schema/name" of the change ledger, one transaction per unit (run_consumer).

    In a unit's transaction: `before_unit` (the dims its rows need), then `table`'s rows of
    the unit (`scope_column` = its scope, `day_column` within its days) made equal to what
    `query` yields (refresh_scope). params_of: the query's parameters (default: the scope
    as `scope_column`, `first`, `last`); full_scopes: every scope of a full build (default:
    the `scope_column` values of `upstream` and of `table`); before: once, before the units,
    in a transaction of its own."""

    def params(unit: Unit) -> dict[str, Any]:
        if params_of is not None:
            return params_of(unit)
        return {scope_column: unit.scope, "first": unit.first, "last": unit.last}

    def recompute(conn: psycopg.Connection, unit: Unit) -> dict[str, LoadResult]:
        values = params(unit)
        if before_unit is not None:
            before_unit(conn, values)
        scope = {scope_column: unit.scope, day_column: (unit.first, unit.last)}
        return {table.fullname: refresh_scope(conn, table, query, values, scope)}

    return run_consumer(
        warehouse,
        f"{table.schema}/{table.name}",
        [t.fullname for t in upstream],
        full_scopes=full_scopes or distinct_scopes(scope_column, [*upstream, table]),
        units_of=units_of,
        recompute=recompute,
        before=before,
        log=log,
    )
