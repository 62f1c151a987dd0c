"""The change ledger, read side: which (scope, day) units of its upstream tables changed
since a consumer asset last ran, how they spread to the consumer's own units, and the
consumer's cursors and lock.

Writes are recorded by triggers (warehouse/tables/ledger.py), in the writing transaction. A consumer
run: `consumer_lock` (one run per consumer at a time), `read_changes` (its units, or
`full` when it has never run), recompute each unit in one transaction, then `advance`.
A crash before `advance` re-reads the same units: consumers must be idempotent.

Ids do not commit in order: an id is drawn while its transaction still runs, so a run may
see id 11 committed while id 10's transaction is still open; a cursor at "11" alone would
skip id 10 for ever. So a cursor is the highest id seen plus the transactions that were
running when it was read (`pg_snapshot_xip`, read in the same snapshot as the rows): the
next run reads the ids above it and every row of those transactions. Any other row with a
lower id belonged to a transaction that had ended, and was read. Nothing is read twice.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from sqlalchemy import Engine

Unit = tuple[str, date]  # (scope, day): tenant, ad account or IG account, and a day


@dataclass(frozen=True)
class Changes:
    """What a consumer has to recompute."""

    consumer: str
    # Some upstream table has no cursor for this consumer yet: rebuild everything.
    full: bool
    # Per upstream table: the (scope, day) units written since the consumer last read.
    units: Mapping[str, frozenset[Unit]]
    # The cursor to store once the units are done: per table the highest id seen, and the
    # transactions running at the read.
    last_ids: Mapping[str, int]
    running_xids: tuple[str, ...]

    def all_units(self) -> frozenset[Unit]:
        return frozenset().union(*self.units.values()) if self.units else frozenset()

    @property
    def empty(self) -> bool:
        return not self.full and not any(self.units.values())


def _lock_key(consumer: str) -> str:
    return f"ledger/{consumer}"


@contextmanager
def consumer_lock(engine: Engine, consumer: str) -> Iterator[None]:
    """Hold the consumer's advisory lock (session level, on a connection of its own) for a
    whole run: a second run of the same consumer waits here, so two runs never recompute
    and advance the same cursors at once."""
    with engine.connect() as sa_conn:
        sa_conn.commit()
        conn = sa_conn.connection.driver_connection
        conn.autocommit = True
        try:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_lock_key(consumer),))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_lock_key(consumer),))
        finally:
            conn.autocommit = False


def read_changes(engine: Engine, consumer: str, tables: Iterable[str]) -> Changes:
    """The units of `tables` (schema.table) written since `consumer`'s cursors, read in one
    snapshot (REPEATABLE READ) with the transactions running at it."""
    tables = list(tables)
    with engine.connect() as sa_conn:
        sa_conn = sa_conn.execution_options(isolation_level="REPEATABLE READ")
        with sa_conn.begin():
            conn = sa_conn.connection.driver_connection
            running = tuple(
                r[0] for r in conn.execute("SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x").fetchall()
            )
            cursors = {
                t: (last, xids)
                for t, last, xids in conn.execute(
                    "SELECT table_name, last_id, CAST(running_xids AS text[]) FROM ops.ledger_cursors"
                    " WHERE consumer = %s AND table_name = ANY(%s)",
                    (consumer, tables),
                ).fetchall()
            }
            units: dict[str, frozenset[Unit]] = {}
            last_ids: dict[str, int] = {}
            for table in tables:
                last_ids[table] = int(
                    conn.execute(
                        "SELECT coalesce(max(id), 0) FROM ops.changed_days WHERE table_name = %s", (table,)
                    ).fetchone()[0]
                )
                if table not in cursors:
                    units[table] = frozenset()
                    continue
                last_id, xids = cursors[table]
                rows = conn.execute(
                    "SELECT DISTINCT scope, day FROM ops.changed_days WHERE table_name = %s"
                    " AND (id > %s OR xid = ANY(CAST(%s AS xid8[])))",
                    (table, last_id, list(xids)),
                ).fetchall()
                units[table] = frozenset((scope, day) for scope, day in rows)
                last_ids[table] = max(last_ids[table], last_id)
    return Changes(consumer, any(t not in cursors for t in tables), units, last_ids, running)


def advance(conn: psycopg.Connection, changes: Changes) -> None:
    """Store the cursors of `changes` (after every unit is done). A run that found nothing
    writes nothing."""
    if changes.empty:
        return
    for table, last_id in changes.last_ids.items():
        conn.execute(
            "INSERT INTO ops.ledger_cursors AS c (consumer, table_name, last_id, running_xids) "
            "VALUES (%s, %s, %s, CAST(%s AS xid8[])) ON CONFLICT (consumer, table_name) DO UPDATE "
            "SET last_id = excluded.last_id, running_xids = excluded.running_xids, updated_at = now()",
            (changes.consumer, table, last_id, list(changes.running_xids)),
        )


# ----------------------------------------------------------------------------- expanding units
# Pure: how a changed upstream unit spreads to the consumer's units.


def map_scopes(units: Iterable[Unit], scope_of: Mapping[str, str] | Callable[[str], str | None]) -> set[Unit]:
    """Units re-keyed by another scope (ad account -> tenant); scopes without one dropped."""
    lookup = scope_of.get if isinstance(scope_of, Mapping) else scope_of
    return {(mapped, day) for scope, day in units if (mapped := lookup(scope)) is not None}


def days_forward(units: Iterable[Unit], days: int) -> set[Unit]:
    """Each unit and the `days` days after it (a trailing average over D-days..D changes
    with D: a change on D moves D..D+days)."""
    return {(scope, day + timedelta(days=i)) for scope, day in units for i in range(days + 1)}


def day_and_later(units: Iterable[Unit], last_day: date) -> set[Unit]:
    """Each unit and every later day up to `last_day` (a running total)."""
    out: set[Unit] = set()
    first: dict[str, date] = {}
    for scope, day in units:
        first[scope] = min(day, first.get(scope, day))
    for scope, start in first.items():
        out.update((scope, start + timedelta(days=i)) for i in range((last_day - start).days + 1))
    return out


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=last) + timedelta(days=1)


def months_and_next(units: Iterable[Unit]) -> set[Unit]:
    """Each unit's month (as its first day) and the next one (month-over-month growth
    compares a month with the one before)."""
    return {(scope, m) for scope, day in units for m in (month_start(day), next_month(month_start(day)))}


def by_scope(units: Iterable[Unit]) -> dict[str, list[date]]:
    """{scope: sorted days}: one set-based statement per scope."""
    out: dict[str, set[date]] = {}
    for scope, day in units:
        out.setdefault(scope, set()).add(day)
    return {scope: sorted(days) for scope, days in sorted(out.items())}
