"""The one load path every table uses.

Rows arrive as an iterable of chunks (DataFrames, lists of dicts or column mappings), so
memory stays bounded by the chunk size whatever the source size. Each chunk is written
with binary COPY into a temporary table; then a single set-based merge applies the
batch to the target:

1. rows identical to the stored row (ignoring `volatile` audit columns such as fetched_at)
   are left alone: neither rewritten nor WAL-logged;
2. the rest are inserted or updated and counted as such (resources/load/merge.py: MERGE on
   PostgreSQL 17+, an anti-join and `INSERT … ON CONFLICT` before);
3. optionally, rows inside a `scope` (e.g. one account and date range) that are absent
   from the batch are deleted: restating a partition replaces it.

Before COPY, every value is checked against its column (resources/load/value_checks.py,
column-wise): a value the column cannot store is stored as NULL, or its row is left out
when the column is part of the key or NOT NULL, and each is recorded in
ops.rejected_values in the same transaction (resources/load/rejections.py). Nothing is stored
wrapped or cut.

Everything runs on the caller's connection and transaction: commit or roll back as a
whole, so a failure leaves the previous state, never half a partition.

This module orchestrates: chunks are prepared (and their rejections tallied and recorded)
by prepare.py, written by binary_copy.py and applied by merge.py (the merge, the replace
scope's deletes, and whether the target or the scope is empty). One entry point per use:
`load` (any producer, an optional replace scope), `load_stream` (a stream from another
database into one scope).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

from ..support.read_ahead import read_ahead
from .binary_copy import copy_cursor, copy_direct, copy_in, dumper_oids, load_errors, write_rows
from .contract import Chunk, LoadError, LoadResult, ScopeValue, TargetTable
from .merge import apply_merge, delete_outside, delete_scope, merge_statement, target_empty
from .prepare import Plan, Tally, chunk_columns, chunk_len, floats_staged, plan_columns, prepare_chunk, stage_type
from .progress import Progress
from .rejections import Quarantine

log = logging.getLogger("vetorial.loader")


_stage_counter = itertools.count()


# --------------------------------------------------------------------------- entry points


def load(
    conn: psycopg.Connection,
    table: TargetTable,
    chunks: Iterable[Chunk],
    *,
    replace_scope: Mapping[str, ScopeValue] | None = None,
    logger: logging.Logger | Any = log,
    chunks_use_conn: bool = True,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Stream `chunks` into `table` on `conn` (inside the caller's transaction).

    replace_scope: rows of the target matching it that are not in the batch are deleted,
    e.g. {"account_id": "act_1", "data": (first_day, last_day)}.
    When the target (or the scope) is empty, the chunks are COPYed straight into it (no merge
    needed); chunks_use_conn: False when producing the chunks never touches `conn`, so that
    COPY streams every chunk in one statement (the server writes while chunks are made).
    quarantine: who is loading, recorded with each value the table cannot store (and the
    rejections the producer found itself, recorded with them). Without one, the table's
    name stands for the source.
    progress: logs rows so far, rows/s and what is left at a steady pace while the chunks are
    consumed (resources/load/progress.py), and its last line when the load is done.

    A value the table cannot store is stored as NULL, or its row left out when the column
    is part of the key or NOT NULL; the rest of the batch loads. Each is recorded in
    ops.rejected_values on `conn` (so a rollback drops it with the rows), counted in the
    result (`nulled`, `skipped`) and summarized in one warning. A replace scope deletes a
    stored row whose new version was left out: the scope is restated by the batch.
    """
    return _run(
        conn,
        table,
        chunks,
        replace_scope=replace_scope,
        logger=logger,
        direct=True,
        chunks_use_conn=chunks_use_conn,
        direct_scope=None,
        wire=(),
        merge_each_chunk=False,
        quarantine=quarantine,
        progress=progress,
    )


def load_stream(
    conn: psycopg.Connection,
    table: TargetTable,
    chunks: Iterable[Chunk],
    *,
    scope: Mapping[str, ScopeValue],
    scope_has_rows: bool,
    wire: Collection[str] = (),
    logger: logging.Logger | Any = log,
    quarantine: Quarantine | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Stream rows read from another database (never from `conn`) into one `scope` of
    `table` whose keys no row outside the scope can share (Chatwoot: one account's
    conversations, numbered by one sequence across accounts).

    The chunks are produced one ahead in a helper thread: while the warehouse stores (or
    merges) chunk k, chunk k+1 is read and prepared.
    - scope_has_rows False (the caller knows: looking would scan other scopes' rows): one
      COPY straight into the table; a key found outside the scope anyway fails the load
      (LoadError), nothing written;
    - scope_has_rows True: each chunk is merged as it arrives (one stage, emptied after each
      merge), overlapping the source's work on the next chunk. The producer sends each key
      once: a key repeated in a later chunk overwrites the earlier one.
    wire: columns whose values are bytes already in the binary format of the column's type
    (read undecoded from a column of that type, typmod included): COPYed as they are, never
    decoded or checked here.
    Values the table cannot store, progress: as `load`.
    """
    ahead = read_ahead(chunks, depth=1, name=f"load-{table.name}")
    # An empty scope: one COPY straight in; else each chunk merged as it arrives.
    return _run(
        conn,
        table,
        ahead,
        replace_scope=None,
        logger=logger,
        direct=not scope_has_rows,
        chunks_use_conn=scope_has_rows,
        direct_scope=None if scope_has_rows else scope,
        wire=wire,
        merge_each_chunk=scope_has_rows,
        quarantine=quarantine,
        progress=progress,
    )


def _run(
    conn,
    table,
    chunks,
    *,
    replace_scope,
    logger,
    direct,
    chunks_use_conn,
    direct_scope,
    wire,
    merge_each_chunk,
    quarantine,
    progress=None,
) -> LoadResult:
    """direct: COPY straight into an empty target (or scope); direct_scope: only this scope need
    be empty; merge_each_chunk: merge every chunk as it arrives (not with replace_scope)."""
    if merge_each_chunk and replace_scope is not None:
        raise ValueError("merge_each_chunk cannot be combined with replace_scope: the stage holds one chunk")
    tally = Tally()
    if progress is not None:
        chunks = progress.track(chunks, chunk_len)
    result = _load(
        conn,
        table,
        iter(chunks),
        tally,
        replace_scope=replace_scope,
        logger=logger,
        direct=direct,
        chunks_use_conn=chunks_use_conn,
        direct_scope=direct_scope,
        wire=frozenset(wire),
        merge_each_chunk=merge_each_chunk,
    )
    if progress is not None:
        progress.finish()
    return tally.record(conn, table, quarantine, result, logger)


def _load(
    conn,
    table: TargetTable,
    chunks,
    tally: Tally,
    *,
    replace_scope,
    logger,
    direct,
    chunks_use_conn,
    direct_scope,
    wire: frozenset[str],
    merge_each_chunk,
) -> LoadResult:
    stage = sql.Identifier(f"_stage_{table.name}_{next(_stage_counter)}")
    plan: Plan | None = None
    rows = inserted = updated = 0
    for chunk in chunks:
        if chunk_len(chunk) == 0 and plan is not None:
            continue
        if plan is None:
            # The first chunk fixes the column set; the contract is checked before any write.
            planned = plan_columns(table, chunk_columns(chunk), logger)
            wire = wire & {c.name for c in planned}
            if direct and target_empty(conn, table, replace_scope or direct_scope):
                plan = Plan(table, planned, wire, frozenset())
                rows = copy_direct(conn, plan, chunk, chunks, tally, chunks_use_conn)
                return LoadResult(table.qualified, rows, rows, 0, 0, 0)
            plan = Plan(table, planned, wire, floats_staged(planned, chunk, wire))
            stage_types = [stage_type(c, plan.as_float) for c in planned]
            conn.execute(
                sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                    stage,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(t.name))
                        for c, t in zip(planned, stage_types)
                    ),
                )
            )
            # Composed once per load, not per chunk.
            copy_stmt = (
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
                .format(stage, sql.SQL(", ").join(sql.Identifier(c.name) for c in planned))
                .as_bytes(conn)
            )
            copy_types = dumper_oids((t.oid for t in stage_types), (c.name for c in planned), wire)
            merge_batch = [
                # The merge's plan needs the batch's size and key statistics (probe the
                # target's key per row, or scan it): the key columns are enough, and ANALYZE
                # of every column cost more than merging a few thousand rows.
                sql.SQL("ANALYZE {} ({})").format(stage, sql.SQL(", ").join(map(sql.Identifier, table.key))),
                merge_statement(table, stage, planned, conn.info.server_version, via_text=plan.as_float),
            ]
            if merge_each_chunk:
                # The stage was created in this transaction: TRUNCATE empties it in place.
                merge_batch.append(sql.SQL("TRUNCATE {}").format(stage))
            merge_batch = sql.SQL("; ").join(merge_batch).as_bytes(conn)
        else:
            missing = sorted(set(plan.names) - set(chunk_columns(chunk)))
            if missing:
                raise LoadError(f"{table.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
        if chunk_len(chunk) == 0:
            continue
        prepared = prepare_chunk(chunk, plan)
        tally.add(prepared)
        with load_errors(table), copy_in(copy_cursor(conn, wire), copy_stmt) as copy:
            copy.set_types(copy_types)
            write_rows(copy, prepared.rows, plan)
        rows += prepared.count
        del prepared  # its row values: freed before the merge and the next chunk
        if merge_each_chunk:
            chunk_inserted, chunk_updated = apply_merge(conn, table, merge_batch)
            inserted, updated = inserted + chunk_inserted, updated + chunk_updated

    if plan is None:
        # No input at all: nothing to merge, but a replace still empties the scope.
        if replace_scope is None:
            return LoadResult(table.qualified, 0, 0, 0, 0, 0)
        return LoadResult(table.qualified, 0, 0, 0, 0, delete_scope(conn, table, replace_scope))

    if not merge_each_chunk:
        inserted, updated = apply_merge(conn, table, merge_batch)
    deleted = 0
    if replace_scope is not None:
        deleted = delete_outside(conn, table, stage, replace_scope)
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    return LoadResult(table.qualified, rows, inserted, updated, rows - inserted - updated, deleted)
