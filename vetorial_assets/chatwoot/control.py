"""ops.etl_control: one audit row per extraction run and tenant, and the watermark it implies.

The watermark is the newest `watermark_end` of a *successful* run: the success row is
written in the same transaction as the data, so the watermark can never run ahead of
what was committed.

A run's row is written `running` before it waits for the tenant's lock (so a waiting run
shows), labelled under the lock with what the run does, and closed `success` with the data
or `failed` after. A killed run cannot close its row: the next run of the tenant does, under
the lock. What tells a dead run's row from a waiting one's is the run's claim, a lock its
data transaction takes before the row is written and holds until it ends: PostgreSQL drops
it when the process dies (its connection closes), whatever killed it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from resources.load import LoadResult, LockBusyError, advisory_xact_lock

from ..warehouse.tables import etl_control


@dataclass
class RunCounts:
    extracted: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, result: LoadResult) -> None:
        self.extracted += result.rows
        self.inserted += result.inserted
        self.updated += result.updated
        self.unchanged += result.unchanged


LOAD_TYPES = ("full", "incremental", "reconcile")


def load_type(full_refresh: bool, reconcile: bool, watermark: datetime | None) -> str:
    """What a run does given the tenant's watermark: no watermark (or asked) reads everything
    as a first load; a reconcile re-reads everything and marks deletions; else incremental."""
    if full_refresh or watermark is None:
        return "full"
    return "reconcile" if reconcile else "incremental"


def _claim(execution_id: str, tenant_id: str) -> tuple[str, ...]:
    return ("ops.etl_control", execution_id, tenant_id)


def claim_run(conn: psycopg.Connection, execution_id: str, tenant_id: str) -> None:
    """Hold the run's claim until `conn`'s transaction ends (see the module docstring)."""
    advisory_xact_lock(conn, *_claim(execution_id, tenant_id), timeout_seconds=0)


def start_run(
    engine: Engine,
    *,
    execution_id: str,
    asset_key: str,
    tenant_id: str,
    load_type: str,
    triggered_by: str,
    watermark_start: datetime | None,
) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(etl_control)
            .values(
                execution_id=execution_id,
                asset_key=asset_key,
                tenant_id=tenant_id,
                status="running",
                load_type=load_type,
                triggered_by=triggered_by,
                watermark_start=watermark_start,
            )
            .returning(etl_control.c.id)
        ).scalar_one()


def record_load_type(engine: Engine, control_id: int, load_type: str, watermark_start: datetime | None) -> None:
    """Label the row with what the run does, decided under the tenant's lock (committed at
    once: a run killed afterwards keeps the right label)."""
    with engine.begin() as conn:
        conn.execute(
            update(etl_control)
            .where(etl_control.c.id == control_id)
            .values(load_type=load_type, watermark_start=watermark_start)
        )


def close_abandoned(engine: Engine, *, asset_key: str, tenant_id: str, current_id: int, closed_by: str) -> list[str]:
    """Close as `failed` the tenant's other `running` rows whose run is gone; returns their run
    ids. Call under the tenant's lock. A row whose claim is still held belongs to a live run
    (one waiting for the lock) and is left alone."""
    closed = []
    with engine.begin() as sa_conn:
        conn: psycopg.Connection = sa_conn.connection.driver_connection
        rows = conn.execute(
            "SELECT id, execution_id FROM ops.etl_control WHERE asset_key = %s AND tenant_id = %s"
            " AND status = 'running' AND id <> %s ORDER BY id",
            (asset_key, tenant_id, current_id),
        ).fetchall()
        for row_id, execution_id in rows:
            try:
                # Taken only while this transaction lasts; the dead run never comes back for it.
                advisory_xact_lock(conn, *_claim(execution_id, tenant_id), timeout_seconds=0)
            except LockBusyError:
                continue  # a live run, waiting for the tenant's lock
            conn.execute(
                "UPDATE ops.etl_control SET status = 'failed', completed_at = %s, error_message = %s"
                " WHERE id = %s AND status = 'running'",
                (
                    datetime.now(UTC),
                    f"abandoned: run {execution_id} stopped without closing this row (its process was killed "
                    f"or lost its connection); found and closed by run {closed_by}",
                    row_id,
                ),
            )
            closed.append(execution_id)
    return closed


def finish_success(
    conn: psycopg.Connection,
    control_id: int,
    counts: RunCounts,
    watermark_start,
    watermark_end,
    rows_total: int,
    started: float,
    now: float,
) -> None:
    """Runs on the data transaction's connection: commits together with the rows."""
    conn.execute(
        "UPDATE ops.etl_control SET status = 'success', completed_at = %s, watermark_start = %s,"
        " watermark_end = %s, rows_extracted = %s, rows_inserted = %s, rows_updated = %s, rows_unchanged = %s,"
        " rows_deleted = %s, rows_total = %s, duration_seconds = %s WHERE id = %s",
        (
            datetime.now(UTC),
            watermark_start,
            watermark_end,
            counts.extracted,
            counts.inserted,
            counts.updated,
            counts.unchanged,
            counts.deleted,
            rows_total,
            round(now - started, 3),
            control_id,
        ),
    )


def finish_failed(
    engine: Engine, control_id: int, error: BaseException, started: float, now: float, redact=lambda text: text
) -> None:
    tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with engine.begin() as conn:
        conn.execute(
            update(etl_control)
            .where(etl_control.c.id == control_id)
            .values(
                status="failed",
                completed_at=datetime.now(UTC),
                duration_seconds=round(now - started, 3),
                error_message=redact(f"{type(error).__name__}: {error}")[:2000],
                error_traceback=redact(tb)[:20000],
            )
        )
