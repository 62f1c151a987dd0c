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
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import struct
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.copy import QueuedLibpqWriter
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from ..support.read_ahead import read_ahead
from . import rejections as rej
from . import value_checks as vc
from .contract import Chunk, LoadError, LoadResult, ScopeValue, TargetColumn, TargetTable, describe_table
from .locks import LockBusyError, advisory_xact_lock
from .merge import delete_outside_batch, merge_statement, scope_delete
from .progress import Progress
from .rejections import Quarantine, Rejection

log = logging.getLogger("vetorial.loader")


# --------------------------------------------------------------------------- chunks


def chunk_columns(chunk: Chunk) -> list[str]:
    if isinstance(chunk, pd.DataFrame):
        return [str(c) for c in chunk.columns]
    if isinstance(chunk, Mapping):
        return [str(c) for c in chunk.keys()]
    names: dict[str, None] = {}
    for row in chunk:
        names.update(dict.fromkeys(row.keys()))
    return list(names)


def chunk_len(chunk: Chunk) -> int:
    if isinstance(chunk, pd.DataFrame):
        return len(chunk)
    if isinstance(chunk, Mapping):
        first = next(iter(chunk.values()), [])
        return len(first)
    return len(chunk)


# --------------------------------------------------------------------------- chunk values
# Each chunk becomes rows for COPY column by column: values converted to what the binary
# dumper of the column's type takes, checked against the column (value_checks), and the
# ones it cannot store NULLed, or their rows left out, and recorded.


@dataclass
class Plan:
    """What every chunk of one load is prepared against (fixed by its first chunk)."""

    table: TargetTable
    cols: list[TargetColumn]
    wire: frozenset[str]
    as_float: frozenset[str]  # numeric columns staged as float8 (their values stay floats)

    def __post_init__(self):
        self.types = [vc.column_type(c.type_name) for c in self.cols]
        self.names = [c.name for c in self.cols]
        self.key_index = [self.names.index(k) for k in self.table.key if k in self.names]


@dataclass
class _Prepared:
    rows: Iterable[Sequence]
    count: int  # rows kept
    rejections: list[Rejection]
    nulled: int
    skipped: int


# A problem found in a chunk: (row index, column index, reason, the value as given).
_Problem = tuple[int, int, str, Any]


def _objects(values: Iterable, n: int) -> np.ndarray:
    # fromiter, not np.array: a column of lists (labels) must stay a column of lists.
    return np.fromiter(values, dtype=object, count=n)


def _nulls(values: Sequence, j: int) -> list[_Problem]:
    """NULLs of a NOT NULL column: looked for one by one only when there is one."""
    listed = values if isinstance(values, list) else values.tolist()
    if None not in listed:
        return []
    return [(i, j, "NULL in a NOT NULL column", None) for i, v in enumerate(listed) if v is None]


def _check_object_column(values: np.ndarray, j: int, plan: Plan) -> tuple[np.ndarray, list[_Problem]]:
    values, types = vc.normalize_missing(values)
    checked = vc.check_objects(values, plan.types[j], numbers_as_float=plan.names[j] in plan.as_float, types=types)
    problems = [(i, j, reason, values[i]) for i, reason in zip(checked.bad, checked.reasons)]
    return checked.values, problems


def _series_column(series: pd.Series, j: int, plan: Plan) -> tuple[list, list[_Problem]]:
    """Python values for one column, NULLs as None, in the shape the binary dumper wants,
    checked against the column. Typed columns are checked with numpy; object columns
    value-type by value-type (value_checks)."""
    ctype, name = plan.types[j], plan.names[j]
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or np.issubdtype(dtype, np.datetime64):
        problems = [(i, j, reason, series.iloc[i]) for i, reason in vc.check_datetimes(series, ctype)]
        if ctype.kind == "date" and not problems:
            values = series.to_numpy(dtype="datetime64[D]").astype(object)
        else:
            # The DatetimeArray's own method: an ndarray of datetimes (NaT where missing, set
            # to None below), without Series.dt.to_pydatetime's deprecation warning.
            values = series.array.to_pydatetime()
        mask = series.isna().to_numpy()
        if mask.any():
            values[mask] = None
        return values.tolist(), problems
    if np.issubdtype(dtype, np.floating):
        arr = series.to_numpy(dtype=np.float64)
        problems = [(i, j, reason, float(arr[i])) for i, reason in vc.check_floats(arr, ctype)]
        mask = np.isnan(arr)
        if problems:
            arr = arr.copy()
            arr[[p[0] for p in problems]] = np.nan
            mask = np.isnan(arr)
        if ctype.kind == "int":
            # pandas turns an integer column with NULLs into floats; binary COPY wants ints.
            out = np.empty(len(arr), dtype=object)
            out[~mask] = arr[~mask].astype(np.int64).tolist()
            out[mask] = None
            return out.tolist(), problems
        if ctype.kind == "numeric" and name not in plan.as_float:
            # Binary COPY has no float -> numeric path; repr() keeps the float's shortest digits.
            return [None if v != v else Decimal(repr(v)) for v in arr.tolist()], problems
        if mask.any():
            out = arr.astype(object)
            out[mask] = None
            return out.tolist(), problems
        return arr.tolist(), problems
    if np.issubdtype(dtype, np.integer) and (
        ctype.kind in ("int", "float") or (ctype.kind == "numeric" and name not in plan.as_float)
    ):
        arr = series.to_numpy()
        problems = [(i, j, reason, int(arr[i])) for i, reason in vc.check_ints(arr, ctype)]
        return arr.tolist(), problems
    if np.issubdtype(dtype, np.bool_) and ctype.kind == "bool":
        return series.to_numpy().tolist(), []
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(dtype, pd.CategoricalDtype):
        values = series.to_numpy(dtype=object, na_value=None)
    else:
        values = series.to_numpy(dtype=object)
    values, problems = _check_object_column(values, j, plan)
    return values.tolist(), problems


def _grid(chunk: pd.DataFrame, plan: Plan) -> tuple[np.ndarray, list[_Problem]]:
    """Python objects only (e.g. rows read from another database): one 2-D object array,
    checked column by column through views, whose rows go to COPY as they are. Wire
    columns hold bytes or None: only a NOT NULL one is looked at (for None)."""
    grid = chunk[plan.names].to_numpy()
    owned = False
    problems: list[_Problem] = []
    for j, column in enumerate(plan.cols):
        values = grid[:, j]
        if column.name not in plan.wire:
            checked, found = _check_object_column(values, j, plan)
            problems += found
            if checked is not values:
                if not owned:
                    grid, owned = grid.copy(), True
                grid[:, j] = checked
                values = grid[:, j]
        if not column.nullable:
            problems += _nulls(values, j)
    return grid, problems


def _columns(chunk: Chunk, plan: Plan) -> tuple[list[list], list[_Problem]]:
    n = chunk_len(chunk)
    problems: list[_Problem] = []
    columns = []
    for j, column in enumerate(plan.cols):
        if isinstance(chunk, pd.DataFrame):
            raw = chunk[column.name]
        elif isinstance(chunk, Mapping):
            raw = chunk[column.name]
        else:
            raw = [row.get(column.name) for row in chunk]
        if column.name in plan.wire:
            values = list(raw)
        elif isinstance(raw, pd.Series):
            values, found = _series_column(raw, j, plan)
            problems += found
        else:
            checked, found = _check_object_column(_objects(raw, n), j, plan)
            values = checked.tolist()
            problems += found
        if not column.nullable:
            problems += _nulls(values, j)
        columns.append(values)
    return columns, problems


def prepare_chunk(chunk: Chunk, plan: Plan) -> _Prepared:
    """The chunk's rows for COPY, every value checked; what cannot be stored NULLed or its
    row left out, and the rejections that say so."""
    n = chunk_len(chunk)
    if isinstance(chunk, pd.DataFrame) and (chunk.dtypes[plan.names] == object).all():  # noqa: E721 (element-wise)
        grid, problems = _grid(chunk, plan)
        if not problems:
            return _Prepared(grid.tolist(), n, [], 0, 0)
        grid = grid.copy()
        value_at = grid.__getitem__
        columns = None
    else:
        columns, problems = _columns(chunk, plan)
        if not problems:
            return _Prepared(zip(*columns), n, [], 0, 0)
        value_at = None
    table, keys = plan.table, set(plan.table.key)
    skip = sorted({i for i, j, _, _ in problems if not plan.cols[j].nullable or plan.names[j] in keys})
    skipped = set(skip)

    def key_of(i: int) -> dict[str, Any]:
        if columns is None:
            return {plan.names[k]: value_at((i, k)) for k in plan.key_index}
        return {plan.names[k]: columns[k][i] for k in plan.key_index}

    rejections = []
    nulled = 0
    for i, j, reason, value in sorted(problems, key=lambda p: (p[0], p[1])):
        name = plan.names[j]
        action = rej.ROW_SKIPPED if i in skipped else rej.NULLED
        rejections.append(
            Rejection(table.qualified, key_of(i), name, reason, rej.shown_value(value, name in table.pii), action)
        )
        if action == rej.NULLED:
            nulled += 1
            if columns is None:
                grid[i, j] = None
            else:
                columns[j][i] = None
    if columns is None:
        keep = np.ones(n, dtype=bool)
        keep[skip] = False
        rows: Iterable[Sequence] = grid[keep].tolist()
    else:
        keep_list = [True] * n
        for i in skip:
            keep_list[i] = False
        rows = itertools.compress(zip(*columns), keep_list)
    return _Prepared(rows, n - len(skip), rejections, nulled, len(skip))


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


def floats_staged(cols: list[TargetColumn], first_chunk: Chunk, wire: Collection[str]) -> frozenset[str]:
    """Binary COPY cannot dump a Python float as numeric: a numeric column whose first chunk
    holds floats is staged as float8 and cast to the target type in the merge (through
    its text, so the stored number is the float's shortest digits, as on the direct path)."""
    return frozenset(
        c.name
        for c in cols
        if c.type_name.startswith("numeric") and c.name not in wire and _is_float_input(first_chunk, c.name)
    )


def _stage_type(column: TargetColumn, as_float: frozenset[str]) -> _StageType:
    """JSON goes as text (value_checks serializes what is not) and is parsed by the
    server's cast, once."""
    if column.name in as_float:
        return _FLOAT8
    if column.type_name in ("jsonb", "json"):
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


class _JsonFromText(Dumper):
    """Binary json is the text itself."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return obj.encode()


class _JsonText(str):
    """Registration handle only: the COPY looks dumpers up by the column's type oid."""


class _JsonbText(str):
    """Registration handle only (see _JsonText)."""


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


def copy_cursor(conn: psycopg.Connection, wire: Collection[str] = ()) -> psycopg.Cursor:
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


def copy_in(cur: psycopg.Cursor, stmt: sql.Composable | bytes):
    """`cur.copy(stmt)` whose data is sent by a writer thread: formatting the next rows goes
    on while the server is still ingesting earlier ones, instead of the two taking turns
    (the send waits without the GIL). Finishing the COPY waits for the queue to drain."""
    return cur.copy(stmt, writer=_QueuedWriter(cur))


def target_empty(conn: psycopg.Connection, table: TargetTable, scope: Mapping[str, ScopeValue] | None) -> bool:
    if scope:
        where, params = scope_clause(table, scope, "t")
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} AS t WHERE {})").format(table.ident, where)
    else:
        query, params = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table.ident), {}
    return not conn.execute(query, params).fetchone()[0]


def register_json(cur: psycopg.Cursor, cols: list[TargetColumn]) -> None:
    for col in cols:
        if col.type_name in ("json", "jsonb"):
            base, handle = (_JsonbFromText, _JsonbText) if col.type_name == "jsonb" else (_JsonFromText, _JsonText)
            cur.adapters.register_dumper(handle, type("_JsonFromTextOid", (base,), {"oid": col.type_oid}))


@dataclass
class Tally:
    """What a load's chunks left out or NULLed, for the result and ops.rejected_values."""

    rejections: list[Rejection] = field(default_factory=list)
    nulled: int = 0
    skipped: int = 0

    def add(self, prepared: _Prepared) -> None:
        self.rejections += prepared.rejections
        self.nulled += prepared.nulled
        self.skipped += prepared.skipped


def write_rows(copy, rows: Iterable[Sequence], plan: Plan) -> None:
    try:
        for row in rows:
            copy.write_row(row)
    except (TypeError, ValueError, OverflowError) as exc:
        # A value the checks let through that the driver cannot encode (a type with no
        # check, say): name the table, column and key rather than the bare driver error.
        raise LoadError(f"{plan.table.qualified}: {_unencodable(row, plan, exc)}") from None


def _unencodable(row: Sequence, plan: Plan, exc: Exception) -> str:
    key = {plan.names[k]: row[k] for k in plan.key_index}
    for name, ctype, value in zip(plan.names, plan.types, row):
        if value is not None and name not in plan.wire and ctype.kind == "other":
            return (
                f"row {rej.key_json(key)}: column {name} ({ctype.name}) got {type(value).__name__} "
                f"{vc.show(value)} that COPY cannot encode ({type(exc).__name__}: {exc})"
            )
    return f"row {rej.key_json(key)}: a value COPY cannot encode ({type(exc).__name__}: {exc})"


def server_refused(table: TargetTable, exc: psycopg.Error) -> LoadError:
    """A value the server refused after the checks let it through: the statement is named
    with the row and column the server reports (COPY: `line N, column c`)."""
    diag = exc.diag
    where = f" ({diag.context.strip()})" if diag.context else ""
    return LoadError(f"{table.qualified}: the server refused a value: {diag.message_primary}{where}")


def _copy_direct(
    conn: psycopg.Connection,
    plan: Plan,
    first_chunk: Chunk,
    chunks: Iterable[Chunk],
    tally: Tally,
    chunks_use_conn: bool = True,
) -> int:
    table, cols, wire = plan.table, plan.cols, plan.wire
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table.ident, sql.SQL(", ").join(sql.Identifier(c.name) for c in cols)
    )
    rows = 0
    cur = copy_cursor(conn, wire)
    register_json(cur, cols)
    all_chunks = itertools.chain([first_chunk], chunks)
    # A producer that reads from the connection (a server-side cursor on the same
    # transaction) needs it free between chunks: one COPY per chunk. Any other producer
    # gets one COPY for the whole stream, so the server stores rows while the next chunk
    # is being produced instead of the two taking turns.
    groups = ([chunk] for chunk in all_chunks) if chunks_use_conn else [all_chunks]
    try:
        for group in groups:
            with copy_in(cur, stmt) as copy:
                copy.set_types(_copy_types((c.type_oid for c in cols), (c.name for c in cols), wire))
                for chunk in group:
                    missing = sorted({c.name for c in cols} - set(chunk_columns(chunk)))
                    if missing:
                        raise LoadError(f"{table.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
                    prepared = prepare_chunk(chunk, plan)
                    tally.add(prepared)
                    write_rows(copy, prepared.rows, plan)
                    rows += prepared.count
                    del prepared  # its row values: freed before the next chunk is made
    except psycopg.errors.UniqueViolation:
        raise LoadError(
            f"{table.qualified}: the batch has the same key ({', '.join(table.key)}) more than once, "
            "or a key that exists outside the replace scope"
        ) from None
    except psycopg.errors.DataError as exc:
        raise server_refused(table, exc) from None
    return rows


# --------------------------------------------------------------------------- merge


def scope_clause(table: TargetTable, scope: Mapping[str, ScopeValue] | None, alias: str) -> tuple[sql.Composable, dict]:
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
                sql.SQL("{} BETWEEN {} AND {}").format(col, sql.Placeholder(f"s{i}lo"), sql.Placeholder(f"s{i}hi"))
            )
            params[f"s{i}lo"], params[f"s{i}hi"] = low, high
        elif isinstance(value, list | set | frozenset):
            parts.append(sql.SQL("{} = ANY({})").format(col, sql.Placeholder(f"s{i}")))
            params[f"s{i}"] = list(value)
        else:
            parts.append(sql.SQL("{} = {}").format(col, sql.Placeholder(f"s{i}")))
            params[f"s{i}"] = value
    return sql.SQL(" AND ").join(parts), params


_stage_counter = itertools.count()


def apply_merge(conn: psycopg.Connection, table: TargetTable, batch: bytes) -> tuple[int, int]:
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
    except psycopg.errors.DataError as exc:
        raise server_refused(table, exc) from None
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
    if scope_has_rows:
        return _run(
            conn,
            table,
            ahead,
            replace_scope=None,
            logger=logger,
            direct=False,
            chunks_use_conn=True,
            direct_scope=None,
            wire=wire,
            merge_each_chunk=True,
            quarantine=quarantine,
            progress=progress,
        )
    return _run(
        conn,
        table,
        ahead,
        replace_scope=None,
        logger=logger,
        direct=True,
        chunks_use_conn=False,
        direct_scope=scope,
        wire=wire,
        merge_each_chunk=False,
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
    found = quarantine.take_found() if quarantine is not None else []
    rejections = found + tally.rejections
    if not rejections:
        return result
    nulled = tally.nulled + sum(r.action == rej.NULLED for r in found)
    skipped = tally.skipped + sum(r.action == rej.ROW_SKIPPED for r in found)
    try:
        rej.record(conn, quarantine, rejections, source=table.qualified)
    except rej.RejectionsNotRecorded as exc:
        raise LoadError(f"{table.qualified}: {exc}") from None
    logger.warning(rej.summary(table.qualified, rejections, nulled, skipped))
    return dataclasses.replace(result, nulled=nulled, skipped=skipped)


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
                rows = _copy_direct(conn, plan, chunk, chunks, tally, chunks_use_conn)
                return LoadResult(table.qualified, rows, rows, 0, 0, 0)
            plan = Plan(table, planned, wire, floats_staged(planned, chunk, wire))
            stage_types = [_stage_type(c, plan.as_float) for c in planned]
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
            copy_types = _copy_types((t.oid for t in stage_types), (c.name for c in planned), wire)
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
        try:
            with copy_in(copy_cursor(conn, wire), copy_stmt) as copy:
                copy.set_types(copy_types)
                write_rows(copy, prepared.rows, plan)
        except psycopg.errors.DataError as exc:
            raise server_refused(table, exc) from None
        rows += prepared.count
        del prepared  # its row values: freed before the merge and the next chunk
        if merge_each_chunk:
            chunk_inserted, chunk_updated = apply_merge(conn, table, merge_batch)
            inserted, updated = inserted + chunk_inserted, updated + chunk_updated

    if plan is None:
        # No input at all: nothing to merge, but a replace still empties the scope.
        if replace_scope is None:
            return LoadResult(table.qualified, 0, 0, 0, 0, 0)
        where, params = scope_clause(table, replace_scope, "t")
        cur = conn.execute(sql.SQL("DELETE FROM {} AS t WHERE {}").format(table.ident, where), params)
        return LoadResult(table.qualified, 0, 0, 0, 0, cur.rowcount)

    if not merge_each_chunk:
        inserted, updated = apply_merge(conn, table, merge_batch)
    deleted = 0
    if replace_scope is not None:
        where, params = scope_clause(table, replace_scope, "t")
        deleted = delete_outside_batch(conn, scope_delete(table, stage, where), params)
    conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    return LoadResult(table.qualified, rows, inserted, updated, rows - inserted - updated, deleted)


__all__ = [
    "Chunk",
    "LoadError",
    "LoadResult",
    "LockBusyError",
    "TargetTable",
    "TargetColumn",
    "advisory_xact_lock",
    "describe_table",
    "load",
    "load_stream",
    "plan_columns",
]
