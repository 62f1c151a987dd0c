"""The one load path every table uses.

Rows arrive as an iterable of chunks (DataFrames, lists of dicts or column mappings), so
memory stays bounded by the chunk size whatever the source size. Each chunk is written
with binary COPY into a temporary table; then a single set-based merge applies the
batch to the target:

1. rows identical to the stored row (ignoring `volatile` audit columns such as fetched_at)
   are left alone: neither rewritten nor WAL-logged;
2. the rest are inserted or updated and counted as such (resources/merge_sql.py: MERGE on
   PostgreSQL 17+, an anti-join and `INSERT … ON CONFLICT` before);
3. optionally, rows inside a `scope` (e.g. one account and date range) that are absent
   from the batch are deleted: restating a partition replaces it.

Everything runs on the caller's connection and transaction: commit or roll back as a
whole, so a failure leaves the previous state, never half a partition.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import struct
from decimal import Decimal
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.copy import QueuedLibpqWriter
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from resources.merge_sql import key_match, merge_statement

log = logging.getLogger("vetorial.loader")

Chunk = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
# A scope value: one value, a (low, high) inclusive range, or a list of values.
ScopeValue = Any


class LoadError(ValueError):
    """The input does not fit the table contract; nothing was written."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int = 0

    @classmethod
    def total(cls, table: str, results: Iterable[LoadResult]) -> LoadResult:
        """The sum of several loads of one table (e.g. one per account range of a run)."""
        results = list(results)
        return cls(table, *(sum(getattr(r, f) for r in results)
                            for f in ("rows", "inserted", "updated", "unchanged", "deleted")))

    def as_metadata(self) -> dict[str, int]:
        return {
            "rows_in_batch": self.rows,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_unchanged": self.unchanged,
            "rows_deleted": self.deleted,
        }


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type_oid: int
    type_name: str
    required: bool  # NOT NULL without a default: the input must carry it


@dataclass(frozen=True)
class TargetTable:
    schema: str
    name: str
    columns: tuple[TargetColumn, ...]
    key: tuple[str, ...]
    volatile: frozenset[str] = field(default_factory=frozenset)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> TargetColumn:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


_CATALOG_QUERY = """
SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod),
       a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AS required
FROM pg_attribute a
WHERE a.attrelid = %(rel)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_KEY_QUERY = """
SELECT a.attname
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %(rel)s::regclass AND i.indisprimary
ORDER BY k.ord
"""


def describe_table(conn: psycopg.Connection, schema: str, name: str,
                   volatile: Iterable[str] = ()) -> TargetTable:
    """Read the target's columns and primary key from the catalog (the contract)."""
    rel = sql.Identifier(schema, name).as_string(conn)
    try:
        cols = conn.execute(_CATALOG_QUERY, {"rel": rel}).fetchall()
    except psycopg.errors.UndefinedTable:
        raise LoadError(f"table {schema}.{name} does not exist (was the warehouse schema created?)") from None
    key = tuple(r[0] for r in conn.execute(_KEY_QUERY, {"rel": rel}).fetchall())
    if not key:
        raise LoadError(f"table {schema}.{name} has no primary key: the load path needs one to merge on")
    return TargetTable(
        schema=schema,
        name=name,
        columns=tuple(TargetColumn(n, oid, t, req) for n, oid, t, req in cols),
        key=key,
        volatile=frozenset(volatile),
    )


# --------------------------------------------------------------------------- chunks


def _chunk_columns(chunk: Chunk) -> list[str]:
    if isinstance(chunk, pd.DataFrame):
        return [str(c) for c in chunk.columns]
    if isinstance(chunk, Mapping):
        return [str(c) for c in chunk.keys()]
    names: dict[str, None] = {}
    for row in chunk:
        names.update(dict.fromkeys(row.keys()))
    return list(names)


def _chunk_len(chunk: Chunk) -> int:
    if isinstance(chunk, pd.DataFrame):
        return len(chunk)
    if isinstance(chunk, Mapping):
        first = next(iter(chunk.values()), [])
        return len(first)
    return len(chunk)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


_INTEGER_TYPES = frozenset({"smallint", "integer", "bigint"})


def _series_values(series: pd.Series, column: TargetColumn) -> list[Any]:
    """Python values for one column, NULLs as None, in the shape the binary dumper wants."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or np.issubdtype(dtype, np.datetime64):
        if column.type_name == "date":
            values = series.to_numpy(dtype="datetime64[D]").astype(object)
        else:
            # The DatetimeArray's own method: an ndarray of datetimes (NaT where missing, set
            # to None below), without Series.dt.to_pydatetime's deprecation warning.
            values = series.array.to_pydatetime()
        mask = series.isna().to_numpy()
        if mask.any():
            values[mask] = None
        return values.tolist()
    if np.issubdtype(dtype, np.floating):
        arr = series.to_numpy()
        mask = np.isnan(arr)
        if column.type_name in _INTEGER_TYPES:
            # pandas turns an integer column with NULLs into floats; binary COPY wants ints.
            out = np.empty(len(arr), dtype=object)
            out[~mask] = arr[~mask].astype(np.int64).tolist()
            out[mask] = None
            return out.tolist()
        if mask.any():
            out = arr.astype(object)
            out[mask] = None
            return out.tolist()
        return arr.tolist()
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
        return series.to_numpy().tolist()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(dtype, pd.CategoricalDtype):
        return series.to_numpy(dtype=object, na_value=None).tolist()
    values = series.to_numpy(dtype=object)
    if not _may_hold_missing(values):
        return values.tolist()
    # Only the flagged positions are looked at one by one (isna also flags Decimal('NaN'),
    # which stays a value, as before).
    mask = series.isna().to_numpy()
    values = values.copy()
    values[mask] = [None if v is None or _is_missing(v) else v for v in values[mask]]
    return values.tolist()


# Types of the values the NULL rule (_is_missing) maps to None, besides None itself.
_MISSING_TYPES = (float, type(pd.NaT), type(pd.NA))


def _may_hold_missing(values: np.ndarray) -> bool:
    """Whether an object array holds a NaN, NaT or NA: one pass over the value types in C,
    several times cheaper than isna's checks of every value."""
    return any(issubclass(t, _MISSING_TYPES) for t in set(map(type, values.ravel(order="K"))))


_MISSING_MARKER_TYPES = (type(pd.NaT), type(pd.NA))


def _plain_values(values: list[Any]) -> list[Any]:
    # Only floats (NaN) and pandas' markers can be missing values that are not None. A
    # column of text, dates or ints has none: skip the per-value check (a type set is C).
    if not any(issubclass(kind, float) or kind in _MISSING_MARKER_TYPES for kind in set(map(type, values))):
        return values
    return [None if _is_missing(v) else v for v in values]


def _chunk_rows(chunk: Chunk, targets: list[TargetColumn], wire: Collection[str] = ()) -> Iterable[Sequence]:
    if isinstance(chunk, pd.DataFrame):
        names = [c.name for c in targets]
        if (chunk.dtypes[names] == object).all():
            # Python objects only (e.g. rows read from another database): with nothing to map
            # to NULL, the rows come out of the 2-D array as they are, no per-column pass.
            # Wire columns hold bytes or None: no NaN to look for there.
            values = chunk[names].to_numpy()
            looked_at = [i for i, name in enumerate(names) if name not in wire]
            if not _may_hold_missing(values if len(looked_at) == len(names) else values[:, looked_at]):
                return values.tolist()
        cols = [_series_values(chunk[c.name], c) for c in targets]
    elif isinstance(chunk, Mapping):
        cols = [_plain_values(list(chunk[c.name])) for c in targets]
    else:
        names = [c.name for c in targets]
        return (tuple(None if _is_missing(v := row.get(n)) else v for n in names) for row in chunk)
    return zip(*cols)


# --------------------------------------------------------------------------- contract


def plan_columns(table: TargetTable, given: Sequence[str], logger: logging.Logger | Any = log) -> list[TargetColumn]:
    """Apply the column contract: drop extras (warn), refuse missing required or key columns."""
    given_set = set(given)
    known = {c.name for c in table.columns}
    extra = [c for c in given if c not in known]
    required = {c.name for c in table.columns if c.required} | set(table.key)
    missing = sorted(required - given_set)
    if missing:
        raise LoadError(f"{table.qualified}: input is missing required column(s): {', '.join(missing)}")
    if extra:
        logger.warning(f"{table.qualified}: ignoring column(s) the table does not have: {', '.join(extra)}")
    return [c for c in table.columns if c.name in given_set]


@dataclass(frozen=True)
class _StageType:
    name: str  # SQL type text for the temp table
    oid: int


_FLOAT8 = _StageType("float8", 701)
_TEXT = _StageType("text", 25)


def _is_float_input(chunk: Chunk, name: str) -> bool:
    if isinstance(chunk, pd.DataFrame):
        return np.issubdtype(chunk[name].dtype, np.floating)
    values = chunk[name] if isinstance(chunk, Mapping) else [row.get(name) for row in chunk]
    return any(isinstance(v, float) for v in values)


def _is_text_input(chunk: Chunk, name: str) -> bool:
    values = chunk[name] if isinstance(chunk, pd.DataFrame | Mapping) else [row.get(name) for row in chunk]
    return any(isinstance(v, str) for v in values)


def _stage_type(column: TargetColumn, first_chunk: Chunk) -> _StageType:
    """Binary COPY cannot dump a Python float as numeric: stage floats as float8 and
    cast to the target type in the merge (so comparisons see the stored precision).
    JSON given as text is staged as text and parsed by the server's cast, once."""
    if column.type_name.startswith("numeric") and _is_float_input(first_chunk, column.name):
        return _FLOAT8
    if column.type_name in ("jsonb", "json") and _is_text_input(first_chunk, column.name):
        return _TEXT
    # format_type output is catalog text, not user input.
    return _StageType(column.type_name, column.type_oid)


# --------------------------------------------------------------------------- direct COPY
# When the target holds nothing the batch could conflict with (an empty table, or an
# empty replace scope), there is nothing to merge: COPY straight into the target and
# skip the temp table. This is most first loads and backfills of new partitions.


class _JsonbFromText(Dumper):
    """Binary jsonb from JSON text we already serialized (version byte 1 + the text)."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class _JsonText(str):
    """Registration handle only: the COPY looks dumpers up by the column's type oid."""


_TEXT_ARRAY_OID, _TEXT_OID = 1009, 25
_ARRAY_1D_HEAD = struct.Struct("!iiIii")  # ndim 1, has-nulls flag, element oid, length, lower bound
_ITEM_LEN = struct.Struct("!i")
_NULL_ITEM = _ITEM_LEN.pack(-1)


class _FastTextList:
    """text[] in binary for the common case, a flat list of str (None allowed), in one pass:
    psycopg's generic recursive list dumper cost more than the rest of a row. Anything
    else (nested lists, other element types, empty lists) goes to the generic dumper this
    class is combined with, so the bytes are the same either way."""

    def __init__(self, cls, context=None):
        super().__init__(cls, context)
        self._encoding = self.connection.info.encoding if self.connection else "utf-8"

    def dump(self, obj):
        if type(obj) is not list or not obj:
            return super().dump(obj)
        encoding, pack = self._encoding, _ITEM_LEN.pack
        parts = [b""]
        has_null = 0
        for item in obj:
            if type(item) is str:
                data = item.encode(encoding)
                parts.append(pack(len(data)))
                parts.append(data)
            elif item is None:
                has_null = 1
                parts.append(_NULL_ITEM)
            else:
                return super().dump(obj)
        parts[0] = _ARRAY_1D_HEAD.pack(1, has_null, _TEXT_OID, len(obj), 1)
        return b"".join(parts)


class _TextList(list):
    """Registration handle only (see _JsonText)."""


_BYTEA_OID = 17


def _copy_cursor(conn: psycopg.Connection, wire: Collection[str] = ()) -> psycopg.Cursor:
    """A cursor for binary COPY, with the fast text[] dumper in place of the generic one
    (and, for wire columns, bytes dumped in C rather than by the DB-API Binary wrapper's
    Python dumper)."""
    cur = conn.cursor()
    generic = cur.adapters.get_dumper_by_oid(_TEXT_ARRAY_OID, Format.BINARY)
    cur.adapters.register_dumper(_TextList, type("_FastTextListDumper", (_FastTextList, generic), {}))
    if wire:
        cur.adapters.register_dumper(bytes, BytesBinaryDumper)
    return cur


def _copy_types(oids: Iterable[int], names: Iterable[str], wire: Collection[str]) -> list[int]:
    """The dumper type per COPY column: a wire column's bytes already are the field's binary
    format, so they go out as bytea does, unchanged (the server reads them with the
    column's own type)."""
    return [_BYTEA_OID if name in wire else oid for oid, name in zip(oids, names)]


class _QueuedWriter(QueuedLibpqWriter):
    """psycopg's queued COPY writer with a shorter queue: 64 buffers of 32 KB (2 MB) are
    plenty to keep the server busy, where its default of 1024 lets a fast producer park
    32 MB per COPY in memory."""

    def __init__(self, cursor: psycopg.Cursor):
        super().__init__(cursor)
        self._queue = queue.Queue(maxsize=64)  # set before the writer thread starts (first write)


def _copy_in(cur: psycopg.Cursor, stmt: sql.Composable | bytes):
    """`cur.copy(stmt)` whose data is sent by a writer thread: formatting the next rows goes
    on while the server is still ingesting earlier ones, instead of the two taking turns
    (the send waits without the GIL). Finishing the COPY waits for the queue to drain."""
    return cur.copy(stmt, writer=_QueuedWriter(cur))


def _direct_target_empty(conn: psycopg.Connection, table: TargetTable,
                         scope: Mapping[str, ScopeValue] | None) -> bool:
    if scope:
        where, params = _scope_clause(table, scope, "t")
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} AS t WHERE {})").format(table.ident, where)
    else:
        query, params = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table.ident), {}
    return not conn.execute(query, params).fetchone()[0]


def _decimal_values(values: list[Any]) -> list[Any]:
    # Binary COPY has no float -> numeric path; repr() keeps the float's shortest digits.
    return [None if v is None else Decimal(repr(v)) for v in values]


def _direct_rows(chunk: Chunk, cols: list[TargetColumn], decimal_cols: set[str],
                 wire: Collection[str] = ()) -> Iterable[tuple]:
    if not decimal_cols:
        return _chunk_rows(chunk, cols, wire)
    if isinstance(chunk, pd.DataFrame):
        columns = [_series_values(chunk[c.name], c) for c in cols]
    elif isinstance(chunk, Mapping):
        columns = [_plain_values(list(chunk[c.name])) for c in cols]
    else:
        columns = [[None if _is_missing(v := row.get(c.name)) else v for row in chunk] for c in cols]
    columns = [_decimal_values(v) if c.name in decimal_cols else v for v, c in zip(columns, cols)]
    return zip(*columns)


def _copy_direct(conn: psycopg.Connection, table: TargetTable, cols: list[TargetColumn],
                 first_chunk: Chunk, chunks: Iterable[Chunk], chunks_use_conn: bool = True,
                 wire: Collection[str] = ()) -> int:
    decimal_cols = {c.name for c in cols if c.type_name.startswith("numeric") and _is_float_input(first_chunk, c.name)}
    json_text = [c for c in cols if c.type_name == "jsonb" and _is_text_input(first_chunk, c.name)]
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table.ident, sql.SQL(", ").join(sql.Identifier(c.name) for c in cols))
    rows = 0
    cur = _copy_cursor(conn, wire)
    for col in json_text:
        dumper = type("_JsonbFromTextOid", (_JsonbFromText,), {"oid": col.type_oid})
        cur.adapters.register_dumper(_JsonText, dumper)
    all_chunks = itertools.chain([first_chunk], chunks)
    # A producer that reads from the connection (a server-side cursor on the same
    # transaction) needs it free between chunks: one COPY per chunk. Any other producer
    # gets one COPY for the whole stream, so the server stores rows while the next chunk
    # is being produced instead of the two taking turns.
    groups = ([chunk] for chunk in all_chunks) if chunks_use_conn else [all_chunks]
    try:
        for group in groups:
            with _copy_in(cur, stmt) as copy:
                copy.set_types(_copy_types((c.type_oid for c in cols), (c.name for c in cols), wire))
                for chunk in group:
                    missing = sorted({c.name for c in cols} - set(_chunk_columns(chunk)))
                    if missing:
                        raise LoadError(f"{table.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
                    for row in _direct_rows(chunk, cols, decimal_cols, wire):
                        copy.write_row(row)
                    rows += _chunk_len(chunk)
    except psycopg.errors.UniqueViolation:
        raise LoadError(
            f"{table.qualified}: the batch has the same key ({', '.join(table.key)}) more than once, "
            "or a key that exists outside the replace scope"
        ) from None
    return rows


# --------------------------------------------------------------------------- merge


def _scope_clause(table: TargetTable, scope: Mapping[str, ScopeValue] | None, alias: str) -> tuple[sql.Composable, dict]:
    if not scope:
        raise LoadError("replace needs a scope")
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    for i, (name, value) in enumerate(scope.items()):
        table.column(name)  # raises KeyError for a typo: better than deleting the wrong rows
        col = sql.Identifier(alias, name)
        if isinstance(value, tuple):
            low, high = value
            parts.append(sql.SQL("{} BETWEEN {} AND {}").format(col, sql.Placeholder(f"s{i}lo"), sql.Placeholder(f"s{i}hi")))
            params[f"s{i}lo"], params[f"s{i}hi"] = low, high
        elif isinstance(value, list | set | frozenset):
            parts.append(sql.SQL("{} = ANY({})").format(col, sql.Placeholder(f"s{i}")))
            params[f"s{i}"] = list(value)
        else:
            parts.append(sql.SQL("{} = {}").format(col, sql.Placeholder(f"s{i}")))
            params[f"s{i}"] = value
    return sql.SQL(" AND ").join(parts), params


_stage_counter = itertools.count()


def _merge(conn: psycopg.Connection, table: TargetTable, batch: bytes) -> tuple[int, int]:
    """Apply the staged batch: (inserted, updated). `batch` is the stage's ANALYZE, the merge
    and, when merging chunk by chunk, the TRUNCATE that empties the stage, sent as one
    simple query: one round trip instead of three per chunk (on a busy machine each round
    trip also waits for the scheduler to wake both sides)."""
    cur = conn.cursor()
    try:
        cur.execute(batch)
    except (psycopg.errors.CardinalityViolation, psycopg.errors.UniqueViolation):
        # A key twice in the batch: updating one stored row twice, or inserting one new key twice.
        raise LoadError(
            f"{table.qualified}: the batch has the same key ({', '.join(table.key)}) more than once"
        ) from None
    counts = None
    while True:  # one result per statement: the merge's is the one with rows
        if cur.description is not None:
            counts = cur.fetchone()
        if not cur.nextset():
            break
    inserted, updated = counts
    return int(inserted), int(updated)


def load(
    conn: psycopg.Connection,
    table: TargetTable,
    chunks: Iterable[Chunk],
    *,
    replace_scope: Mapping[str, ScopeValue] | None = None,
    logger: logging.Logger | Any = log,
    direct: bool = True,
    chunks_use_conn: bool = True,
    direct_scope: Mapping[str, ScopeValue] | None = None,
    wire: Collection[str] = (),
    merge_each_chunk: bool = False,
) -> LoadResult:
    """Stream `chunks` into `table` on `conn` (inside the caller's transaction).

    replace_scope: rows of the target matching it that are not in the batch are deleted,
    e.g. {"account_id": "act_1", "data": (first_day, last_day)}.
    direct: when the target (or the scope) is empty, COPY straight into it (no merge needed).
    chunks_use_conn: False when producing the chunks never touches `conn`; the direct COPY
    then streams every chunk in one COPY (faster: the server writes while chunks are made).
    direct_scope: the caller knows rows outside it can never share a key with the batch, so
    the direct COPY only needs this scope empty, not the whole table (a first load of one
    tenant next to others'). Only decides the direct COPY: it never deletes anything. A key
    found outside it anyway fails the load (LoadError), nothing written.
    wire: columns whose values are bytes already in the binary format of the column's type
    (e.g. read undecoded from another PostgreSQL with a column of that type): COPYed as
    they are, never decoded here.
    merge_each_chunk: merge every chunk as it arrives (one stage table, emptied after each
    merge) instead of the whole batch at the end, so merging overlaps whatever produces the
    next chunk. For producers that send each key once: a key repeated in a later chunk
    overwrites the earlier one instead of failing. Not with replace_scope.
    """
    if merge_each_chunk and replace_scope is not None:
        raise ValueError("merge_each_chunk cannot be combined with replace_scope: the stage holds one chunk")
    stage = sql.Identifier(f"_stage_{table.name}_{next(_stage_counter)}")
    planned: list[TargetColumn] | None = None
    rows = inserted = updated = 0
    chunks = iter(chunks)
    for chunk in chunks:
        if _chunk_len(chunk) == 0 and planned is not None:
            continue
        if planned is None:
            # The first chunk fixes the column set; the contract is checked before any write.
            planned = plan_columns(table, _chunk_columns(chunk), logger)
            if direct and _direct_target_empty(conn, table, replace_scope or direct_scope):
                rows = _copy_direct(conn, table, planned, chunk, chunks, chunks_use_conn, wire)
                return LoadResult(table.qualified, rows, rows, 0, 0, 0)
            stage_types = [_stage_type(c, chunk) for c in planned]
            conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                stage, sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(t.name))
                    for c, t in zip(planned, stage_types))))
            # Composed once per load, not per chunk.
            copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                stage, sql.SQL(", ").join(sql.Identifier(c.name) for c in planned)).as_bytes(conn)
            copy_types = _copy_types((t.oid for t in stage_types), (c.name for c in planned), wire)
            merge_batch = [
                # The merge's plan needs the batch's size and key statistics (probe the
                # target's key per row, or scan it): the key columns are enough, and ANALYZE
                # of every column cost more than merging a few thousand rows.
                sql.SQL("ANALYZE {} ({})").format(stage, sql.SQL(", ").join(map(sql.Identifier, table.key))),
                merge_statement(table, stage, planned, conn.info.server_version),
            ]
            if merge_each_chunk:
                # The stage was created in this transaction: TRUNCATE empties it in place.
                merge_batch.append(sql.SQL("TRUNCATE {}").format(stage))
            merge_batch = sql.SQL("; ").join(merge_batch).as_bytes(conn)
        else:
            missing = sorted({c.name for c in planned} - set(_chunk_columns(chunk)))
            if missing:
                raise LoadError(f"{table.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
        n = _chunk_len(chunk)
        if n == 0:
            continue
        with _copy_in(_copy_cursor(conn, wire), copy_stmt) as copy:
            copy.set_types(copy_types)
            for row in _chunk_rows(chunk, planned, wire):
                copy.write_row(row)
        rows += n
        if merge_each_chunk:
            chunk_inserted, chunk_updated = _merge(conn, table, merge_batch)
            inserted, updated = inserted + chunk_inserted, updated + chunk_updated

    if planned is None:
        # No input at all: nothing to merge, but a replace still empties the scope.
        if replace_scope is None:
            return LoadResult(table.qualified, 0, 0, 0, 0, 0)
        where, params = _scope_clause(table, replace_scope, "t")
        cur = conn.execute(sql.SQL("DELETE FROM {} AS t WHERE {}").format(table.ident, where), params)
        return LoadResult(table.qualified, 0, 0, 0, 0, cur.rowcount)

    if not merge_each_chunk:
        inserted, updated = _merge(conn, table, merge_batch)
    deleted = 0
    if replace_scope is not None:
        where, params = _scope_clause(table, replace_scope, "t")
        cur = conn.execute(
            sql.SQL("DELETE FROM {target} AS t WHERE {where} AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {km})")
            .format(target=table.ident, where=where, stage=stage, km=key_match(table.key)),
            params,
        )
        deleted = cur.rowcount
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    return LoadResult(table.qualified, rows, inserted, updated, rows - inserted - updated, deleted)


def advisory_xact_lock(conn: psycopg.Connection, *parts: str, wait: bool = True,
                       timeout_seconds: float | None = None) -> None:
    """Serialize work on (asset, partition/tenant) until the caller's transaction ends.

    `timeout_seconds` None waits as long as it takes; 0 (or less) does not wait at all: a
    try-lock (lock_timeout = 0 would mean "no timeout" to PostgreSQL, i.e. wait forever)."""
    key = "/".join(parts)
    if wait and timeout_seconds is not None and timeout_seconds <= 0:
        wait = False
    if wait:
        if timeout_seconds is not None:
            # At least 1 ms: a value that rounds to 0 ms would disable the timeout.
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(timeout_seconds * 1000))}ms",))
        try:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        except psycopg.errors.LockNotAvailable:
            raise LockBusyError(f"another run of {key} is already running (waited {timeout_seconds}s); "
                                "try again when it finishes") from None
        if timeout_seconds is not None:
            conn.execute("SELECT set_config('lock_timeout', '0', true)")
    else:
        got = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]
        if not got:
            raise LockBusyError(f"another run of {key} is already running (not waiting for it); "
                                "try again when it finishes")


class LockBusyError(RuntimeError):
    """Another run holds the advisory lock for the same asset and partition/tenant."""


__all__ = [
    "Chunk", "LoadError", "LoadResult", "LockBusyError", "TargetTable", "TargetColumn",
    "advisory_xact_lock", "describe_table", "load", "plan_columns",
]
