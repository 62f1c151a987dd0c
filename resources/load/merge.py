"""The set-based statements that apply a staged batch to its target table (and delete what a
replace scope no longer has), and the helpers that run them: `scope_clause` (a scope as a
WHERE clause), `target_empty`, `apply_merge`, `delete_scope`, `delete_outside`.

Both forms leave rows identical to the stored row (ignoring the table's volatile audit
columns) untouched: not rewritten, not WAL-logged, counted as unchanged. Both return one
row: (inserted, updated).

- PostgreSQL 17+: `MERGE … RETURNING merge_action()`. One join of batch and target decides
  every row.
- Older servers (14-16): an anti-join drops the identical rows, then `INSERT … ON CONFLICT
  DO UPDATE` writes the rest and `xmax = 0` tells inserts from updates. Each changed row is
  probed twice, by the anti-join and by the upsert (about twice the cost per changed row:
  docs/design.md, "Measurements behind the code").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from .binary_copy import load_errors
from .contract import LoadError, ScopeValue, TargetColumn, TargetTable

MERGE_RETURNING_SINCE = 170000  # server_version_num with MERGE … RETURNING merge_action()


def scope_clause(
    table: TargetTable, scope: Mapping[str, ScopeValue] | None, alias: str, prefix: str = "s"
) -> tuple[sql.Composable, dict]:
    """`scope` ({column: value | (low, high) | list}) as a WHERE clause on `alias`, and its
    parameters (named `prefix`0, `prefix`1lo…: apart from a caller's own)."""
    if not scope:
        raise LoadError("replace needs a scope")
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    for i, (name, value) in enumerate(scope.items()):
        table.column(name)  # raises KeyError for a typo: better than deleting the wrong rows
        col = sql.Identifier(alias, name)
        if isinstance(value, tuple):
            low, high = value
            parts.append(
                sql.SQL("{} BETWEEN {} AND {}").format(
                    col, sql.Placeholder(f"{prefix}{i}lo"), sql.Placeholder(f"{prefix}{i}hi")
                )
            )
            params[f"{prefix}{i}lo"], params[f"{prefix}{i}hi"] = low, high
        elif isinstance(value, list | set | frozenset):
            parts.append(sql.SQL("{} = ANY({})").format(col, sql.Placeholder(f"{prefix}{i}")))
            params[f"{prefix}{i}"] = list(value)
        else:
            parts.append(sql.SQL("{} = {}").format(col, sql.Placeholder(f"{prefix}{i}")))
            params[f"{prefix}{i}"] = value
    return sql.SQL(" AND ").join(parts), params


def target_empty(conn: psycopg.Connection, table: TargetTable, scope: Mapping[str, ScopeValue] | None) -> bool:
    """Whether `table` (or its `scope`) holds no row: then a batch is inserted, not merged."""
    if scope:
        where, params = scope_clause(table, scope, "t")
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} AS t WHERE {})").format(table.ident, where)
    else:
        query, params = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table.ident), {}
    return not conn.execute(query, params).fetchone()[0]


def _row(alias: str, names: list[str], as_text: frozenset[str] = frozenset()) -> sql.Composable:
    """ROW(alias.a, alias.b, …); `as_text` columns compared by their text (json has no =)."""

    def item(n: str) -> sql.Composable:
        ident = sql.Identifier(alias, n)
        return sql.SQL("CAST({} AS text)").format(ident) if n in as_text else ident

    return sql.SQL("ROW({})").format(sql.SQL(", ").join(map(item, names)))


def key_match(key: list[str]) -> sql.Composable:
    return sql.SQL(" AND ").join(sql.SQL("{} = {}").format(sql.Identifier("t", k), sql.Identifier("s", k)) for k in key)


def cast_batch(stage: sql.Identifier, cols: list[TargetColumn], via_text: frozenset[str]) -> sql.Composable:
    """The staged batch with every column cast to the target's type (stage columns may be
    looser, e.g. text for jsonb). `via_text`: float8-staged numeric columns, cast through
    their text: float8 -> numeric keeps 15 significant digits, float8's text the shortest
    exact ones (what the direct COPY stores, from Python's repr), so a row loaded either way
    compares equal."""

    def cast(c) -> sql.Composable:
        value = sql.Identifier(c.name)
        if c.name in via_text:
            value = sql.SQL("CAST({} AS text)").format(value)
        return sql.SQL("CAST({v} AS {t}) AS {c}").format(v=value, c=sql.Identifier(c.name), t=sql.SQL(c.type_name))

    return sql.SQL("(SELECT {} FROM {})").format(sql.SQL(", ").join(map(cast, cols)), stage)


def insert_statement(
    table: TargetTable, stage: sql.Identifier, cols: list[TargetColumn], via_text: frozenset[str] = frozenset()
) -> sql.Composed:
    """The staged batch inserted as it is: for a target holding no row it could conflict
    with (its scope is empty), where there is nothing to compare. A key the batch has
    twice, or that exists outside the scope anyway, fails it (unique violation)."""
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    return sql.SQL("INSERT INTO {target} ({names}) SELECT {names} FROM {batch} AS s").format(
        target=table.ident, names=names, batch=cast_batch(stage, cols, via_text)
    )


def identical_count(
    table: TargetTable,
    stage: sql.Identifier,
    cols: list[TargetColumn],
    where: sql.Composable,
    via_text: frozenset[str] = frozenset(),
) -> sql.Composed:
    """How many staged rows matching `where` (on alias s) equal their stored row, compared
    as the merge compares them (volatile columns ignored)."""
    names = [c.name for c in cols]
    compared = table.compared(names)
    json_cols = frozenset(c.name for c in cols if c.type_name == "json")
    same = (
        sql.SQL(" AND {} IS NOT DISTINCT FROM {}").format(
            _row("t", compared, json_cols), _row("s", compared, json_cols)
        )
        if compared
        else sql.SQL("")
    )
    return sql.SQL("SELECT count(*) FROM {batch} AS s JOIN {target} AS t ON {key_match}{same} WHERE {where}").format(
        batch=cast_batch(stage, cols, via_text),
        target=table.ident,
        key_match=key_match(list(table.key)),
        same=same,
        where=where,
    )


def scope_delete(table: TargetTable, stage: sql.Identifier, where: sql.Composable) -> sql.Composed:
    """Rows of the replace scope (`where`, on alias t) that the staged batch lacks. An
    anti-join: the loader runs it with nested loops off, so its cost is linear whatever
    the statistics (see delete_outside_batch)."""
    return sql.SQL(
        "DELETE FROM {target} AS t WHERE {where} AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {km})"
    ).format(target=table.ident, where=where, stage=stage, km=key_match(table.key))


def merge_statement(
    table: TargetTable,
    stage: sql.Identifier,
    cols: list[TargetColumn],
    server_version: int,
    via_text: frozenset[str] = frozenset(),
) -> sql.Composed:
    """The statement for `server_version` (libpq's server_version_num)."""
    names = [c.name for c in cols]
    key = list(table.key)
    # Compared to tell changed rows from identical ones; volatile columns are written along
    # with a change but never make one; digested ones are compared through their digest.
    compared = table.compared(names)
    updated = [n for n in names if n not in table.key]
    batch = cast_batch(stage, cols, via_text)
    json_cols = frozenset(c.name for c in cols if c.type_name == "json")
    if server_version >= MERGE_RETURNING_SINCE:
        return _merge_into(table, batch, names, key, compared, updated, json_cols)
    return _insert_on_conflict(table, batch, names, key, compared, updated, json_cols)


def _merge_into(table, batch, names, key, compared, updated, json_cols) -> sql.Composed:
    when_matched = sql.SQL("")
    if compared:
        when_matched = sql.SQL(" WHEN MATCHED AND {t} IS DISTINCT FROM {s} THEN UPDATE SET {sets}").format(
            t=_row("t", compared, json_cols),
            s=_row("s", compared, json_cols),
            sets=sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(n), sql.Identifier("s", n)) for n in updated
            ),
        )
    return sql.SQL(
        "WITH changed AS ("
        " MERGE INTO {target} AS t USING {batch} AS s ON {key_match}{when_matched}"
        " WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
        " RETURNING merge_action() AS action)"
        " SELECT count(*) FILTER (WHERE action = 'INSERT'), count(*) FILTER (WHERE action = 'UPDATE') FROM changed"
    ).format(
        target=table.ident,
        batch=batch,
        key_match=key_match(key),
        when_matched=when_matched,
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        values=sql.SQL(", ").join(sql.Identifier("s", n) for n in names),
    )


def _insert_on_conflict(table, batch, names, key, compared, updated, json_cols) -> sql.Composed:
    same = (
        sql.SQL(" AND {} IS NOT DISTINCT FROM {}").format(
            _row("t", compared, json_cols), _row("s", compared, json_cols)
        )
        if compared
        else sql.SQL("")
    )
    if updated:
        conflict = sql.SQL("DO UPDATE SET {sets}{guard}").format(
            sets=sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updated
            ),
            # Guards against a concurrent writer changing the row between filter and upsert.
            guard=sql.SQL(" WHERE {} IS DISTINCT FROM {}").format(
                _row("t", compared, json_cols), _row("excluded", compared, json_cols)
            )
            if compared
            else sql.SQL(""),
        )
    else:
        conflict = sql.SQL("DO NOTHING")
    col_list = sql.SQL(", ").join(map(sql.Identifier, names))
    return sql.SQL(
        "WITH changed AS ("
        " INSERT INTO {target} AS t ({cols})"
        " SELECT {cols} FROM {batch} AS s"
        " WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {key_match}{same})"
        " ON CONFLICT ({key}) {conflict}"
        " RETURNING (xmax = 0) AS inserted)"
        " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM changed"
    ).format(
        target=table.ident,
        cols=col_list,
        batch=batch,
        key_match=key_match(key),
        same=same,
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        conflict=conflict,
    )


def delete_outside_batch(conn: psycopg.Connection, statement: sql.Composable, params: dict) -> int:
    """Run the replace scope's anti-join DELETE with nested loops disabled for it alone.

    Right after a target's first load (or before autovacuum caught up) the planner has no
    statistics for the scope's columns and estimates the scope at one row: it then picks a
    nested loop that scans the whole stage once per target row (docs/design.md,
    "Measurements behind the code"). Every row of the scope has to be visited whatever the plan, so a
    hash (or merge) anti-join is never worse: this makes the plan linear whatever the
    statistics say. The setting is put back right after, in the same transaction."""
    previous = conn.execute(
        "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
    ).fetchone()[0]
    try:
        return conn.execute(statement, params).rowcount
    finally:
        if not conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.execute("SELECT set_config('enable_nestloop', %s, true)", (previous,))


def apply_merge(conn: psycopg.Connection, table: TargetTable, batch: bytes) -> tuple[int, int]:
    """Apply the staged batch: (inserted, updated). `batch` is the merge statement, or the
    stage's ANALYZE, the merge and, when merging chunk by chunk, the TRUNCATE that empties
    the stage, sent as one simple query: one round trip instead of three per chunk (on a
    busy machine each round trip also waits for the scheduler to wake both sides)."""
    cur = conn.cursor()
    with load_errors(table):
        cur.execute(batch)
    counts = None
    while True:  # one result per statement: the merge's is the one with rows
        if cur.description is not None:
            counts = cur.fetchone()
        if not cur.nextset():
            break
    inserted, updated = counts
    return int(inserted), int(updated)


def delete_scope(conn: psycopg.Connection, table: TargetTable, scope: Mapping[str, ScopeValue]) -> int:
    """Every row of the replace `scope`: what a replace whose batch has no row leaves."""
    where, params = scope_clause(table, scope, "t")
    return conn.execute(sql.SQL("DELETE FROM {} AS t WHERE {}").format(table.ident, where), params).rowcount


def delete_outside(
    conn: psycopg.Connection, table: TargetTable, stage: sql.Identifier, scope: Mapping[str, ScopeValue]
) -> int:
    """The rows of the replace `scope` that the staged batch lacks (delete_outside_batch)."""
    where, params = scope_clause(table, scope, "t")
    return delete_outside_batch(conn, scope_delete(table, stage, where), params)
