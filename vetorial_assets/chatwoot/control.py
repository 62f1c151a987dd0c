"""ops.etl_control: one audit row per extraction run and tenant, and the watermark it implies.

The watermark is the newest `watermark_end` of a *successful* run: the success row is
written in the same transaction as the data, so the watermark can never run ahead of
what was committed.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from resources.loader import LoadResult

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


def start_run(engine: Engine, *, execution_id: str, asset_key: str, tenant_id: str, load_type: str,
              triggered_by: str, watermark_start: datetime | None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(etl_control).values(
            execution_id=execution_id, asset_key=asset_key, tenant_id=tenant_id, status="running",
            load_type=load_type, triggered_by=triggered_by, watermark_start=watermark_start,
        ).returning(etl_control.c.id)).scalar_one()


def finish_success(conn: psycopg.Connection, control_id: int, counts: RunCounts, watermark_start, watermark_end,
                   rows_total: int, started: float, now: float) -> None:
    """Runs on the data transaction's connection: commits together with the rows."""
    conn.execute(
        "UPDATE ops.etl_control SET status = 'success', completed_at = %s, watermark_start = %s,"
        " watermark_end = %s, rows_extracted = %s, rows_inserted = %s, rows_updated = %s, rows_unchanged = %s,"
        " rows_deleted = %s, rows_total = %s, duration_seconds = %s WHERE id = %s",
        (datetime.now(timezone.utc), watermark_start, watermark_end, counts.extracted, counts.inserted,
         counts.updated, counts.unchanged, counts.deleted, rows_total, round(now - started, 3), control_id),
    )


def finish_failed(engine: Engine, control_id: int, error: BaseException, started: float, now: float,
                  redact=lambda text: text) -> None:
    tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with engine.begin() as conn:
        conn.execute(update(etl_control).where(etl_control.c.id == control_id).values(
            status="failed", completed_at=datetime.now(timezone.utc), duration_seconds=round(now - started, 3),
            error_message=redact(f"{type(error).__name__}: {error}")[:2000], error_traceback=redact(tb)[:20000],
        ))
