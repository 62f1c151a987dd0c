"""The COPY wire: rows written with binary COPY, by a writer thread, through fast dumpers.

- `copy_cursor` / `register_json`: a cursor whose dumpers write text[] in one pass, JSON
  text as json/jsonb, and wire columns' bytes as they are;
- `copy_in`: a COPY whose data a writer thread sends while the next rows are formatted;
- `write_rows`, `server_refused`, `load_errors`: rows written, a value the driver or the
  server refused named with its table, column and key, a key the batch repeats named with
  its table;
- `copy_direct`: a whole load COPYed straight into its target (nothing to merge).
"""

from __future__ import annotations

import itertools
import queue
import struct
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.copy import QueuedLibpqWriter
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from . import rejections as rej
from . import value_checks as vc
from .contract import Chunk, LoadError, TargetColumn, TargetTable
from .prepare import Plan, Tally, chunk_columns, prepare_chunk


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


def dumper_oids(oids: Iterable[int], names: Iterable[str], wire: Collection[str]) -> list[int]:
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


def register_json(cur: psycopg.Cursor, cols: list[TargetColumn]) -> None:
    for col in cols:
        if col.type_name in ("json", "jsonb"):
            base, handle = (_JsonbFromText, _JsonbText) if col.type_name == "jsonb" else (_JsonFromText, _JsonText)
            cur.adapters.register_dumper(handle, type("_JsonFromTextOid", (base,), {"oid": col.type_oid}))


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


@contextmanager
def load_errors(table: TargetTable, *, scope_unchecked: bool = False) -> Iterator[None]:
    """A statement writing a batch into `table` (COPY, INSERT, merge): the server's errors a
    caller can act on, raised as a LoadError naming the table.

    scope_unchecked: the statement inserts without looking at stored rows (the target or its
    scope was empty), so a key stored outside the scope collides as well."""
    try:
        yield
    except (psycopg.errors.CardinalityViolation, psycopg.errors.UniqueViolation):
        # A key twice in the batch: one stored row updated twice, or one new key inserted twice.
        outside = ", or a key that exists outside the scope" if scope_unchecked else ""
        raise LoadError(
            f"{table.qualified}: the batch has the same key ({', '.join(table.key)}) more than once{outside}"
        ) from None
    except psycopg.errors.DataError as exc:
        raise server_refused(table, exc) from None


def copy_direct(
    conn: psycopg.Connection,
    plan: Plan,
    first_chunk: Chunk,
    chunks: Iterable[Chunk],
    tally: Tally,
    chunks_use_conn: bool = True,
) -> int:
    """COPY every chunk straight into the target; the rows written.

    For a target holding nothing the batch could conflict with (an empty table, or an
    empty replace scope): there is nothing to merge, so no temp table. This is most first
    loads and backfills of new partitions."""
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
    with load_errors(table, scope_unchecked=True):
        for group in groups:
            with copy_in(cur, stmt) as copy:
                copy.set_types(dumper_oids((c.type_oid for c in cols), (c.name for c in cols), wire))
                for chunk in group:
                    missing = sorted({c.name for c in cols} - set(chunk_columns(chunk)))
                    if missing:
                        raise LoadError(f"{table.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
                    prepared = prepare_chunk(chunk, plan)
                    tally.add(prepared)
                    write_rows(copy, prepared.rows, plan)
                    rows += prepared.count
                    del prepared  # its row values: freed before the next chunk is made
    return rows
