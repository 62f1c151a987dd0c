"""Run a derived table's recompute over the units its upstream tables changed (the change
ledger, warehouse/ledger.py), one transaction per unit.

A consumer run: hold its lock; read what changed since its cursors; the first run (no
cursor) rebuilds everything instead, one set-based unit per scope (account or tenant) with
every day; recompute each unit in its own transaction; advance the cursors after the last
unit. A crash in between re-reads the same units next time: units must be idempotent (they
are: refresh_scope leaves identical rows untouched).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import psycopg

from resources.load.contract import LoadResult

from . import ledger

if TYPE_CHECKING:  # the resource (a layer above) is handed in; only its methods are used
    from resources.warehouse import Warehouse

# The day range of a full build of one scope: every day there can be.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9999, 12, 31)


@dataclass(frozen=True, order=True)
class Unit:
    """What one transaction recomputes: a scope (ad account, tenant, IG account) and days."""

    scope: str
    first: date
    last: date


@dataclass
class ConsumerRun:
    consumer: str
    full: bool = False
    units: int = 0
    # table -> its LoadResults, one per unit
    results: dict[str, list[LoadResult]] = field(default_factory=dict)

    def total(self, table: str) -> LoadResult:
        return LoadResult.total(table, self.results.get(table, []))

    def metadata(self, table: str) -> dict:
        total = self.total(table)
        return {"units_processed": self.units, "full_build": self.full, **total.as_metadata()}


def day_units(changes: Iterable[tuple[str, date]]) -> list[Unit]:
    """One unit per changed (scope, day)."""
    return sorted(Unit(scope, day, day) for scope, day in set(changes))


def run_consumer(
    warehouse: Warehouse,
    consumer: str,
    upstream: list[str],
    *,
    full_scopes: Callable[[psycopg.Connection], list[str]],
    units_of: Callable[[ledger.Changes], list[Unit]],
    recompute: Callable[[psycopg.Connection, Unit], dict[str, LoadResult]],
    before: Callable[[psycopg.Connection], None] | None = None,
    log=None,
) -> ConsumerRun:
    """Recompute `consumer` for what changed in `upstream` (schema.table names).

    full_scopes: every scope of a full build; units_of: the units of an incremental run;
    recompute: one unit on a connection in its own transaction -> {table: LoadResult};
    before: run first, in a transaction of its own (dims every run refreshes)."""
    warehouse.ensure_schema()
    run = ConsumerRun(consumer)
    with ledger.consumer_lock(warehouse.engine(), consumer):
        changes = ledger.read_changes(warehouse.engine(), consumer, upstream)
        with warehouse.transaction() as conn:
            if before is not None:
                before(conn)
            run.full = changes.full
            units = (
                [Unit(scope, FIRST_DAY, LAST_DAY) for scope in full_scopes(conn)] if changes.full else units_of(changes)
            )
        for unit in units:
            with warehouse.transaction() as conn:
                for table, result in recompute(conn, unit).items():
                    run.results.setdefault(table, []).append(result)
            run.units += 1
        if log is not None:
            log.info(f"{consumer}: {'full build' if run.full else 'incremental'}, {run.units} unit(s)")
        with warehouse.transaction() as conn:
            ledger.advance(conn, changes)
    return run
