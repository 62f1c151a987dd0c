"""Pull first, lock later: what an API run pulls is spooled, then applied in one short transaction.

A date x account asset spends seconds to minutes on HTTP for a range: pages, retries,
throttle pauses, async report jobs. None of that happens under a lock or inside a
transaction. A `Spooler` is one warehouse session in autocommit; each `Spool` is a temp
table of it. Every chunk written to a spool is checked against its target table (the load
path's value checks, resources/load/prepare.py) and COPYed in a statement of its own: no
transaction stays open between two chunks, so none waits on the network. Temp tables write
no WAL, and a session that dies takes them along: a crash while pulling leaves nothing.

The COPYs run in a writer thread of the spooler, one chunk behind the caller: the server
stores a chunk while the caller parses and cleans the next pages (a COPY in the caller's
thread waited for the server at the end of every chunk). One chunk at most is in flight, so
memory stays bounded.

`Spooler.apply` then does, in ONE transaction:
1. take the spools' advisory locks (asset, account), sorted by their text: one order
   everywhere, so two applies cannot deadlock. The wait is bounded (LockBusyError: "already
   running (waited N s)");
2. find the days of the range that a pull which began later already applied
   (ops.pulled_days, by the warehouse's clock): their spooled rows are dropped and left out of
   the scope, so an older pull that applies last cannot bring older numbers back;
3. apply each spool: INSERT ... SELECT when its table has no row in the scope (account and
   days), else merge.py's merge (rows identical to the stored ones are not rewritten) and,
   with `replace`, delete the scope's rows the pull did not return;
4. record the rejected values (ops.rejected_values) and the days applied (ops.pulled_days).
Every table of the range commits together, or none does.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from importlib import resources as pkg_resources
from typing import Any, BinaryIO

import psycopg
from psycopg import sql
from sqlalchemy import Table

from . import binary_copy, prepare
from .contract import Chunk, LoadError, LoadResult, TargetTable
from .locks import advisory_xact_lock
from .merge import (
    apply_merge,
    cast_batch,
    delete_outside,
    delete_scope,
    identical_count,
    insert_statement,
    merge_statement,
    target_empty,
)
from .rejections import Quarantine

log = logging.getLogger("vetorial.spool")

_spool_numbers = itertools.count()


def _sql(name: str) -> str:
    return pkg_resources.files("resources.load").joinpath("sql", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class PulledRange:
    """What one pull covered: the asset that pulled it (the key of its ops.pulled_days
    rows), the account and the inclusive days."""

    source: str
    account: str
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


class _Writer:
    """The session's COPYs, one at a time in a thread of their own, at most one chunk behind
    the caller; a COPY's error is raised in the caller by the next submit() or wait()."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._pending: Future | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._executor.submit(job)

    def wait(self) -> None:
        """Until the chunk in flight is stored."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Let a COPY still running end (its error, if any, is not raised here)."""
        self._pending = None
        self._executor.shutdown(wait=True)


class Spool:
    """One table's rows of a pulled range, in a temp table of the spooler's session."""

    def __init__(
        self,
        conn: psycopg.Connection,
        writer: _Writer,
        target: TargetTable,
        lock: tuple[str, ...],
        account_column: str,
        day_column: str,
        quarantine: Quarantine | None,
        logger: Any,
    ):
        self.target = target
        self.lock = lock
        self._conn, self._writer, self._logger = conn, writer, logger
        self._account_column, self._day_column = account_column, day_column
        self._quarantine = quarantine
        self._ident = sql.Identifier(f"_spool_{target.name}_{next(_spool_numbers)}")
        self._plan: prepare.Plan | None = None
        self._create_table: bytes = b""
        self._copy: bytes = b""
        self._copy_types: list[int] = []
        self._tally = prepare.Tally()
        self._analyzed = False
        self.rows = 0  # rows spooled (checked, not left out)

    def write(self, chunk: Chunk) -> None:
        """Check `chunk` against the table, then hand it to the writer thread, which COPYs it
        into the spool in a statement of its own.

        What the table cannot store is NULLed or its row left out (recorded when the spool is
        applied); a chunk lacking a required column raises LoadError, and so does (at the
        next write, or on apply) a chunk the server refused."""
        if prepare.chunk_len(chunk) == 0:
            return
        create = self._plan is None
        if create:
            self._plan_for(chunk)
        else:
            missing = sorted(set(self._plan.names) - set(prepare.chunk_columns(chunk)))
            if missing:
                raise LoadError(f"{self.target.qualified}: a later chunk lacks column(s) {', '.join(missing)}")
        prepared = prepare.prepare_chunk(chunk, self._plan)
        self._tally.add(prepared)
        self.rows += prepared.count
        self._writer.submit(partial(self._store, prepared.rows, create))

    @property
    def columns(self) -> list[str]:
        """The spooled columns, in the order of `copy_to`'s data (none before a first chunk)."""
        return [] if self._plan is None else [c.name for c in self._plan.cols]

    def copy_to(self, out: BinaryIO) -> None:
        """Every chunk written so far, once stored, as binary COPY data in the target's column
        types (`columns`): what a client-side spool would hold (benchmarks/spool_bench.py)."""
        self._writer.wait()
        if self._plan is None:
            return
        batch = cast_batch(self._ident, self._plan.cols, self._plan.as_float)
        with self._conn.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(batch)) as copy:
            for data in copy:
                out.write(data)

    def _plan_for(self, first_chunk: Chunk) -> None:
        """The first chunk fixes the columns (the contract checked before anything is written)."""
        target = self.target
        cols = prepare.plan_columns(target, prepare.chunk_columns(first_chunk), self._logger)
        self._plan = prepare.Plan(target, cols, frozenset(), prepare.floats_staged(cols, first_chunk, ()))
        # The target's own types, but numeric columns given floats: float8, cast through
        # their text on apply (the loader's stage does the same). JSON keeps its type: parsed
        # once by the COPY, while the pull waits on the network, not inside the apply.
        types = [("float8", 701) if c.name in self._plan.as_float else (c.type_name, c.type_oid) for c in cols]
        self._create_table = (
            sql.SQL("CREATE TEMP TABLE {} ({})")
            .format(
                self._ident,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(t)) for c, (t, _) in zip(cols, types)
                ),
            )
            .as_bytes(self._conn)
        )
        self._copy = (
            sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
            .format(self._ident, sql.SQL(", ").join(sql.Identifier(c.name) for c in cols))
            .as_bytes(self._conn)
        )
        self._copy_types = [oid for _, oid in types]

    def _store(self, rows: Iterable[Sequence], create: bool) -> None:
        """In the writer thread: one chunk into the spool (its first also creates it)."""
        if create:
            self._conn.execute(self._create_table)
        cur = binary_copy.copy_cursor(self._conn)
        binary_copy.register_json(cur, self._plan.cols)
        with binary_copy.load_errors(self.target), binary_copy.copy_in(cur, self._copy) as copy:
            copy.set_types(self._copy_types)
            binary_copy.write_rows(copy, rows, self._plan)

    def _scope(self, pulled: PulledRange, newer: list[date]) -> dict[str, Any]:
        days = (pulled.first, pulled.last) if not newer else [d for d in pulled.days() if d not in set(newer)]
        return {self._account_column: pulled.account, self._day_column: days}

    def _before_apply(self, pulled: PulledRange) -> None:
        """Outside the apply's transaction (no lock needed): the spool's key statistics for
        the merge's plan, when its table already has rows of the range (else the apply
        inserts, and nothing needs them)."""
        if self._plan is not None and not target_empty(self._conn, self.target, self._scope(pulled, [])):
            self._analyze()

    def _analyze(self) -> None:
        self._conn.execute(
            sql.SQL("ANALYZE {} ({})").format(self._ident, sql.SQL(", ").join(map(sql.Identifier, self.target.key)))
        )
        self._analyzed = True

    def _apply(self, pulled: PulledRange, newer: list[date], replace: bool) -> LoadResult:
        """Inside the apply's transaction, under the locks."""
        conn, target, plan = self._conn, self.target, self._plan
        superseded = 0
        if newer and plan is not None:
            superseded = self._leave_out(newer)
        scope = self._scope(pulled, newer)
        inserted = updated = deleted = 0
        if not scope[self._day_column]:
            pass  # a later pull applied every day of the range
        elif plan is None:  # the pull returned no row: a replace empties the scope
            if replace:
                deleted = delete_scope(conn, target, scope)
        elif target_empty(conn, target, scope):
            with binary_copy.load_errors(target, scope_unchecked=True):
                inserted = conn.execute(insert_statement(target, self._ident, plan.cols, plan.as_float)).rowcount
        else:
            if not self._analyzed:  # the range's rows arrived while this run was pulling
                self._analyze()
            statement = merge_statement(
                target, self._ident, plan.cols, conn.info.server_version, via_text=plan.as_float
            )
            inserted, updated = apply_merge(conn, target, statement.as_bytes(conn))
            if replace:
                deleted = delete_outside(conn, target, self._ident, scope)
        result = LoadResult(
            target.qualified,
            self.rows,
            inserted,
            updated,
            self.rows - superseded - inserted - updated,
            deleted,
            superseded=superseded,
        )
        # The values left out or NULLed while pulling, recorded in the apply's transaction.
        return self._tally.record(conn, target, self._quarantine, result, self._logger)

    def _leave_out(self, newer: list[date]) -> int:
        """Drop the spooled rows of days a later pull applied; how many of them differed from
        what it stored (the others count as unchanged, as a merge would find them)."""
        conn, plan = self._conn, self._plan
        day = sql.Identifier(self._day_column)
        same = conn.execute(
            identical_count(
                self.target,
                self._ident,
                plan.cols,
                sql.SQL("{} = ANY(%s)").format(sql.Identifier("s", self._day_column)),
                plan.as_float,
            ),
            (newer,),
        ).fetchone()[0]
        dropped = conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(self._ident, day), (newer,)).rowcount
        return dropped - same

    def _drop(self) -> None:
        if self._plan is not None:
            self._conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._ident))


class Spooler:
    """One warehouse session (autocommit) to spool a pulled range into, then apply it.

    Made by `Warehouse.spooler()`, which also ends it: its spools are dropped then (or with
    the session, if it died)."""

    def __init__(self, conn: psycopg.Connection, describe: Callable[[Table], TargetTable], logger: Any = log):
        if not conn.autocommit:
            raise ValueError(
                "a spooler needs a connection in autocommit: no transaction may stay open while "
                "the pull waits on the network"
            )
        self._conn, self._describe, self._logger = conn, describe, logger
        self._writer = _Writer()
        self._spools: list[Spool] = []
        # The warehouse's clock when the pull began: how pulls of two runs are ordered.
        self.pulled_at: datetime = conn.execute("SELECT now()").fetchone()[0]

    @property
    def backend_pid(self) -> int:
        """The server process of this session (pg_stat_activity, pg_locks)."""
        return self._conn.info.backend_pid

    def spool(
        self,
        table: Table,
        *,
        lock: tuple[str, ...],
        account_column: str = "account_id",
        day_column: str = "data",
        quarantine: Quarantine | None = None,
    ) -> Spool:
        """A spool for `table`'s rows of the range. `lock`: the advisory lock (asset,
        account) its rows are applied under; `account_column` / `day_column`: where the
        table keeps the account and the day (the apply's scope); `quarantine`: who is
        loading, and the rows the producer left out itself (recorded on apply)."""
        spool = Spool(
            self._conn,
            self._writer,
            self._describe(table),
            tuple(lock),
            account_column,
            day_column,
            quarantine,
            self._logger,
        )
        self._spools.append(spool)
        return spool

    def apply(
        self,
        spools: Sequence[Spool],
        pulled: PulledRange,
        *,
        replace: bool,
        lock_wait_seconds: float | None,
        run_id: str | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[LoadResult]:
        """Apply `spools` in one transaction (see the module docstring); their results, in order.

        replace: the range is restated by the pull: rows of the scope (account and days) the
        pull did not return are deleted. lock_wait_seconds: how long to wait for another run
        holding a lock (None: as long as it takes; 0: not at all) before LockBusyError.
        timings: if given, filled with each spool's seconds inside the transaction, by its
        table's qualified name (a timing hook for benchmarks)."""
        conn = self._conn
        self._writer.wait()  # every chunk stored (or its error raised)
        for spool in spools:
            spool._before_apply(pulled)
        with conn.transaction():
            for lock in sorted({spool.lock for spool in spools}):
                advisory_xact_lock(conn, *lock, timeout_seconds=lock_wait_seconds)
            params = {
                "source": pulled.source,
                "partition": pulled.account,
                "first": pulled.first,
                "last": pulled.last,
                "pulled_at": self.pulled_at,
                "run_id": run_id,
            }
            newer = [row[0] for row in conn.execute(_sql("pulled_days_newer.sql"), params).fetchall()]
            if newer:
                self._logger.warning(
                    f"{pulled.account}: {len(newer)} day(s) of {pulled.first}..{pulled.last} "
                    f"({_days_text(newer)}) were applied meanwhile by a run whose pull began later: "
                    "left as it stored them"
                )
            results = []
            for spool in spools:
                started = time.perf_counter()
                results.append(spool._apply(pulled, newer, replace))
                if timings is not None:
                    timings[spool.target.qualified] = time.perf_counter() - started
            conn.execute(_sql("pulled_days_record.sql"), params)
        return results

    def close(self) -> bool:
        """Drop the spools; False when the session is unusable (the caller discards it)."""
        self._writer.close()
        try:
            for spool in self._spools:
                spool._drop()
        except psycopg.Error:
            return False
        finally:
            self._spools.clear()
        return True


def _days_text(days: list[date], shown: int = 5) -> str:
    text = ", ".join(d.isoformat() for d in days[:shown])
    return text if len(days) <= shown else f"{text}, …"


__all__ = ["PulledRange", "Spool", "Spooler"]
