"""Spool, then apply (resources/load/spool.py), against a real PostgreSQL: nothing is locked or left in
a transaction while a range is spooled; the apply commits every table of the range or none,
takes its locks in one order with a bounded wait, keeps the value checks and their records,
and leaves alone the days a pull that began later already applied."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from resources.load import LoadError, LockBusyError, advisory_xact_lock
from resources.load.rejections import Quarantine
from resources.load.spool import PulledRange
from resources.warehouse import Warehouse
from tests.test_loader import staging_frame
from vetorial_assets.meta.raw_rows import RAW_COLUMNS
from vetorial_assets.warehouse.tables import insights_meta_ads, meta_ads_insights_raw

ACCOUNT = "act_1"
FIRST, LAST = date(2025, 1, 1), date(2025, 1, 5)
RAW_LOCK = ("raw/meta_ads_insights", ACCOUNT)
STAGING_LOCK = ("staging/insights_meta_ads", ACCOUNT)
RANGE = PulledRange("raw/meta_ads_insights", ACCOUNT, FIRST, LAST)


def raw_columns(n: int, spend: str = "1.00", days: tuple[date, date] = (FIRST, LAST)) -> dict[str, list]:
    """Raw rows of ACCOUNT spread over `days` (inclusive)."""
    span = (days[1] - days[0]).days + 1
    cols: dict[str, list] = {c: [] for c in RAW_COLUMNS}
    for i in range(n):
        day = days[0] + timedelta(days=i % span)
        payload = json.dumps({"ad_id": f"ad{i}", "date_start": day.isoformat(), "spend": spend})
        for name, value in (
            ("account_id", ACCOUNT),
            ("data", day),
            ("ad_id", f"ad{i}"),
            ("publisher_platform", "facebook"),
            ("platform_position", "feed"),
            ("payload", payload),
            ("content_hash", hashlib.md5(payload.encode()).hexdigest()),
            ("fetched_at", datetime(2025, 1, 6, tzinfo=UTC)),
        ):
            cols[name].append(value)
    return cols


def snapshot(db, table: str) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()  # noqa: S608 - constant names


def pull(wh: Warehouse, raw_rows: dict | None, staging_rows, *, lock_wait: float | None = 5, run_id: str = "run"):
    """Spool raw and/or staging rows of RANGE and apply them; the results."""
    with wh.spooler() as spooler:
        spools = []
        if raw_rows is not None:
            spools.append(spooler.spool(meta_ads_insights_raw, lock=RAW_LOCK))
            spools[-1].write(raw_rows)
        if staging_rows is not None:
            spools.append(spooler.spool(insights_meta_ads, lock=STAGING_LOCK))
            spools[-1].write(staging_rows)
        return spooler.apply(spools, RANGE, replace=True, lock_wait_seconds=lock_wait, run_id=run_id)


def session_state(db, pid: int) -> tuple[str, object, int]:
    """(state, backend_xid, advisory locks) of a backend, seen from another connection."""
    with db.connect(autocommit=True) as conn:
        state, xid = conn.execute("SELECT state, backend_xid FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'", (pid,)
        ).fetchone()[0]
    return state, xid, locks


def idle(db, pid: int) -> tuple[str, object, int]:
    """session_state() once the backend has no statement running (polled, bounded)."""
    for _ in range(200):
        state = session_state(db, pid)
        if state[0] != "active":
            return state
        threading.Event().wait(0.05)
    return state


def spool_tables(db) -> list[str]:
    """Temp tables named like spools, of any session of the database."""
    with db.connect(autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname LIKE 'pg\\_temp\\_%' AND c.relname LIKE '\\_spool\\_%'"
            ).fetchall()
        ]


def test_spooling_holds_no_lock_and_no_open_transaction(wh, fresh_db):
    frame = staging_frame(300)
    with wh.spooler() as spooler:
        spool = spooler.spool(insights_meta_ads, lock=STAGING_LOCK)
        for part in (frame.iloc[:100], frame.iloc[100:]):
            spool.write(part)
            # Once the chunk is stored (the writer thread COPYs it), while a pull would wait on
            # the network for the next one: idle, no transaction, no lock.
            assert idle(fresh_db, spooler.backend_pid) == ("idle", None, 0)
        assert len(spool_tables(fresh_db)) == 1  # the spool, in the session's temp schema
        assert wh.row_count(insights_meta_ads) == 0  # nothing applied yet
        (result,) = spooler.apply([spool], RANGE, replace=True, lock_wait_seconds=5)
        assert session_state(fresh_db, spooler.backend_pid) == ("idle", None, 0)
    assert (result.rows, result.inserted) == (300, 300)
    assert wh.row_count(insights_meta_ads) == 300
    assert spool_tables(fresh_db) == []  # dropped with the spooler; the session goes back to the pool


def test_raw_and_staging_commit_together_or_not_at_all(wh, fresh_db):
    pull(wh, raw_columns(50), staging_frame(50))
    before = snapshot(fresh_db, "raw.meta_ads_insights"), snapshot(fresh_db, "staging.insights_meta_ads")
    changed = staging_frame(50, spend_bump=1.0)
    broken = pd.concat([changed, changed.iloc[[0]]])  # the same key twice: staging's apply fails
    with pytest.raises(LoadError, match="same key"):
        pull(wh, raw_columns(50, spend="9.99"), broken)
    # Raw was applied first in that transaction: rolled back with staging.
    assert (snapshot(fresh_db, "raw.meta_ads_insights"), snapshot(fresh_db, "staging.insights_meta_ads")) == before


def test_a_busy_lock_is_waited_for_then_reported_and_nothing_is_written(wh, fresh_db):
    with fresh_db.connect() as holder:
        advisory_xact_lock(holder, *STAGING_LOCK)
        with wh.spooler() as spooler:
            raw = spooler.spool(meta_ads_insights_raw, lock=RAW_LOCK)
            raw.write(raw_columns(20))
            staging = spooler.spool(
                insights_meta_ads, lock=STAGING_LOCK, quarantine=Quarantine("staging/insights_meta_ads", ACCOUNT, "r1")
            )
            bad = staging_frame(20)
            bad["impressoes"] = bad["impressoes"].astype(object)
            bad.loc[0, "impressoes"] = 2**64  # bigint cannot hold it: its row is left out and recorded
            staging.write(bad)
            with pytest.raises(
                LockBusyError,
                match=r"staging/insights_meta_ads/act_1 is already running "
                r"\(waited 0.2s\)",
            ):
                spooler.apply([raw, staging], RANGE, replace=True, lock_wait_seconds=0.2, run_id="r1")
            # The raw lock was free, but nothing of the range landed, nor its rejections.
            assert wh.row_count(meta_ads_insights_raw) == 0
            with fresh_db.connect() as conn:
                assert conn.execute("SELECT count(*) FROM ops.rejected_values").fetchone()[0] == 0
            holder.rollback()  # the other run is done: the same spools apply now
            raw_result, staging_result = spooler.apply(
                [raw, staging], RANGE, replace=True, lock_wait_seconds=0.2, run_id="r1"
            )
    assert (raw_result.inserted, staging_result.inserted, staging_result.skipped) == (20, 19, 1)
    with fresh_db.connect() as conn:
        recorded = conn.execute(
            "SELECT run_id, source, partition, column_name, action FROM ops.rejected_values"
        ).fetchall()
    assert recorded == [("r1", "staging/insights_meta_ads", ACCOUNT, "impressoes", "row_skipped")]


def test_locks_are_taken_in_one_order_so_two_applies_never_deadlock(wh, fresh_db):
    """Two applies name their locks in opposite orders while a third session holds the raw lock:
    both wait for it holding nothing (sorted: raw before staging), then both complete."""
    results, errors = [], []

    def apply(order: str) -> None:
        try:
            with wh.spooler() as spooler:
                raw = spooler.spool(meta_ads_insights_raw, lock=RAW_LOCK)
                raw.write(raw_columns(40))
                staging = spooler.spool(insights_meta_ads, lock=STAGING_LOCK)
                staging.write(staging_frame(40))
                spools = [raw, staging] if order == "raw first" else [staging, raw]
                results.append(spooler.apply(spools, RANGE, replace=True, lock_wait_seconds=30))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    with fresh_db.connect() as holder, fresh_db.connect(autocommit=True) as watcher:
        advisory_xact_lock(holder, *RAW_LOCK)
        threads = [threading.Thread(target=apply, args=(order,)) for order in ("raw first", "staging first")]
        for thread in threads:
            thread.start()
        waiting = 0
        for _ in range(600):
            waiting, granted = watcher.execute(
                "SELECT count(*) FILTER (WHERE NOT granted), count(*) FILTER (WHERE granted)"
                " FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
            ).fetchone()  # not other tests' (one server)
            if waiting == 2 or errors:
                break
            threading.Event().wait(0.05)
        assert waiting == 2 and granted == 1  # both wait for the raw lock; neither took staging's
        holder.rollback()
        for thread in threads:
            thread.join(60)
    assert not errors
    inserted = sorted((raw.inserted, staging.inserted) for raw, staging in results)
    assert inserted == [(0, 0), (40, 40)]
    assert wh.row_count(insights_meta_ads) == 40 and wh.row_count(meta_ads_insights_raw) == 40


def test_days_a_later_pull_applied_are_left_as_it_stored_them(wh, fresh_db):
    older = staging_frame(100)  # five days, 20 rows each
    newer = staging_frame(100, spend_bump=5.0)
    newer_days = PulledRange("raw/meta_ads_insights", ACCOUNT, date(2025, 1, 4), LAST)
    with wh.spooler() as early:  # begins pulling first...
        early_spool = early.spool(insights_meta_ads, lock=STAGING_LOCK)
        early_spool.write(older)
        with wh.spooler() as late:  # ...a run that began later pulls days 4-5 and applies first
            late_spool = late.spool(insights_meta_ads, lock=STAGING_LOCK)
            late_spool.write(newer[newer["data"] >= date(2025, 1, 4)])
            late.apply([late_spool], newer_days, replace=True, lock_wait_seconds=5, run_id="late")
        (result,) = early.apply([early_spool], RANGE, replace=True, lock_wait_seconds=5, run_id="early")
    assert (result.rows, result.inserted, result.superseded, result.unchanged) == (100, 60, 40, 0)
    with fresh_db.connect() as conn:
        spend = dict(
            conn.execute("SELECT data, sum(valor_gasto) FROM staging.insights_meta_ads GROUP BY data").fetchall()
        )
        pulled = dict(
            conn.execute("SELECT day, run_id FROM ops.pulled_days WHERE partition = %s", (ACCOUNT,)).fetchall()
        )
    expected = {
        d: sum(float(v) for v in frame.loc[frame["data"] == d, "valor_gasto"])
        for d, frame in ((FIRST + timedelta(days=i), older if i < 3 else newer) for i in range(5))
    }
    assert {d: float(v) for d, v in spend.items()} == pytest.approx(expected)
    assert pulled == {FIRST + timedelta(days=i): ("early" if i < 3 else "late") for i in range(5)}


def test_rows_a_later_pull_stored_the_same_count_as_unchanged(wh):
    frame = staging_frame(100)
    with wh.spooler() as early:
        early_spool = early.spool(insights_meta_ads, lock=STAGING_LOCK)
        early_spool.write(frame)
        pull(wh, None, frame, run_id="late")
        (result,) = early.apply([early_spool], RANGE, replace=True, lock_wait_seconds=5)
    assert (result.inserted, result.updated, result.deleted, result.superseded, result.unchanged) == (0, 0, 0, 0, 100)


def test_an_empty_pull_restates_its_scope_only(wh):
    pull(wh, None, staging_frame(100))
    wh.load(insights_meta_ads, [staging_frame(10, start=500, account="act_2")])  # another account
    with wh.spooler() as spooler:
        (result,) = spooler.apply(
            [spooler.spool(insights_meta_ads, lock=STAGING_LOCK)], RANGE, replace=True, lock_wait_seconds=5
        )
    assert (result.rows, result.deleted) == (0, 100)
    assert wh.row_count(insights_meta_ads) == 10


def test_a_session_that_dies_while_spooling_takes_its_spools_along(wh, fresh_db):
    with wh.spooler() as spooler:
        spool = spooler.spool(insights_meta_ads, lock=STAGING_LOCK)
        spool.write(staging_frame(50))
        idle(fresh_db, spooler.backend_pid)
        with fresh_db.connect(autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (spooler.backend_pid,))
        spool.write(staging_frame(50, start=50))
        with pytest.raises(psycopg.OperationalError):  # the chunk's COPY failed: the apply says so
            spooler.apply([spool], RANGE, replace=True, lock_wait_seconds=5)
    for _ in range(100):  # the backend drops its temp tables as it exits
        if not spool_tables(fresh_db):
            break
        threading.Event().wait(0.05)
    assert spool_tables(fresh_db) == []
    assert wh.row_count(insights_meta_ads) == 0
    pull(wh, None, staging_frame(100))  # the dead session was discarded, not handed out again
    assert wh.row_count(insights_meta_ads) == 100


def test_raw_rows_are_compared_by_their_content_hash(wh, fresh_db):
    """raw.meta_ads_insights' content_hash stands for its payload (info digest_of): a re-pull
    compares the hash; a changed payload comes with a changed hash and is rewritten whole."""
    pull(wh, raw_columns(20), None)
    before = snapshot(fresh_db, "raw.meta_ads_insights")
    (same,) = pull(wh, raw_columns(20), None)
    assert (same.inserted, same.updated, same.deleted, same.unchanged) == (0, 0, 0, 20)
    # The hash decides: a payload that differs under the same hash (never so from the loader,
    # which hashes what it stores) is not compared, and the row is left alone.
    forged = raw_columns(20)
    forged["payload"] = raw_columns(20, spend="9.99")["payload"]
    (kept,) = pull(wh, forged, None)
    assert (kept.updated, kept.unchanged) == (0, 20)
    assert snapshot(fresh_db, "raw.meta_ads_insights") == before
    # A real change: new payload, new hash: updated, payload and hash together.
    (changed,) = pull(wh, raw_columns(20, spend="2.00"), None)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 20, 0)
    with fresh_db.connect() as conn:
        spends = {r[0] for r in conn.execute("SELECT payload->>'spend' FROM raw.meta_ads_insights").fetchall()}
    assert spends == {"2.00"}


def test_the_benchmark_hooks_report_each_table_and_the_spooled_rows_as_copy_data(wh, fresh_db):
    """What benchmarks/spool_bench.py uses instead of private names: each table's seconds in
    the apply (`timings`), and a spool's rows as the binary COPY data a client-side spool
    would hold (`columns`, `copy_to`), which loads the rows the apply stored."""
    timings: dict[str, float] = {}
    copied = io.BytesIO()
    with wh.spooler() as spooler:
        raw = spooler.spool(meta_ads_insights_raw, lock=RAW_LOCK)
        staging = spooler.spool(insights_meta_ads, lock=STAGING_LOCK)
        raw.write(raw_columns(40))
        staging.write(staging_frame(40))
        staging.copy_to(copied)
        spooler.apply([raw, staging], RANGE, replace=True, lock_wait_seconds=5, timings=timings)
        columns = staging.columns
    assert sorted(timings) == ["raw.meta_ads_insights", "staging.insights_meta_ads"]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    stored = sql.SQL("SELECT {} FROM staging.insights_meta_ads ORDER BY {}").format(names, names)
    with fresh_db.connect() as conn:
        applied = conn.execute(stored).fetchall()
        assert len(applied) == 40
        conn.execute("DELETE FROM staging.insights_meta_ads")
        with conn.cursor().copy(
            sql.SQL("COPY staging.insights_meta_ads ({}) FROM STDIN (FORMAT BINARY)").format(names)
        ) as copy:
            copy.write(copied.getvalue())
        assert conn.execute(stored).fetchall() == applied  # the columns the table fills itself aside
