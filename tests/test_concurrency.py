"""Concurrency suite (issue 11): runs that collide, as real processes on a real PostgreSQL.

- the same Meta range twice at once, and the same Chatwoot tenant twice at once, while the first
  run is held inside its write (tests/crash_helpers.py `Pause`): a second run waits for it and
  then succeeds, a run with `lock_wait_seconds: 0` fails at once saying "already running"; no
  duplicate row; the tables one run leaves;
- a backfill overlapping the 4-hourly schedule's window (the schedule's own run request): both
  succeed (no deadlock), and the day Meta restated between the two pulls keeps the newer pull's
  rows although the backfill applied last (no lost update);
- several Chatwoot tenants in parallel: each holds its own lock at the same time as the others,
  and each ends with exactly its source's rows;
- no lock is held while a run waits on the network: while the Graph API stalls a Meta run,
  another session takes the very advisory locks the run applies under, and the run waits for
  them only when it applies;
- Chatwoot, by design, reads its source under the tenant's lock (docs/reliability.md says why):
  with the source stalled mid-stream, the tenant's lock is busy and another tenant's is free.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, build_schedule_context

from resources.load import LockBusyError, advisory_xact_lock
from resources.warehouse import Warehouse
from tests.crash_helpers import (
    Pause,
    RangeRun,
    TenantRun,
    client_sessions,
    project_advisory_locks,
    wait_for,
)
from tests.test_crash_chatwoot import reference as chatwoot_reference
from tests.test_crash_chatwoot import stable as chatwoot_stable
from tests.test_crash_meta import RANGE, RAW, STAGING, reference, stable
from tests.test_faults_chatwoot import FETCH, proxy, source  # noqa: F401 (fixtures)
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
from vetorial_assets.sandbox.graph_data import sandbox_today

pytestmark = pytest.mark.slow  # real processes run against each other

ACCOUNT = "act_100000000000001"
META_OP = "meta_ads_insights"
NO_WAIT_META = {"ops": {META_OP: {"config": {"lock_wait_seconds": 0}}}}
TENANT = "allpfit"


def waiting_for_project_lock(db) -> int:
    return sum(1 for _pid, granted in project_advisory_locks(db) if not granted)


@pytest.fixture
def big_graph_api(monkeypatch, vetorial_env):
    with SandboxGraphAPI(ads_per_account=200) as api:
        monkeypatch.setenv("VETORIAL_META_GRAPH_URL", api.base_url)
        yield api


def test_the_same_meta_range_twice_at_once_one_waits_one_fails_fast_no_duplicates(
    make_defs, make_db, vetorial_env, graph_api, monkeypatch, tmp_path
):
    db = vetorial_env
    first, last = sandbox_today() - timedelta(days=4), sandbox_today() - timedelta(days=1)
    Warehouse(url=db.url).ensure_schema()
    pause = Pause(db, STAGING, at_row=5)  # the first run, inside its apply (raw merged, locks held)
    ours = client_sessions(db)
    first_run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
    try:
        wait_for(pause.waiting, "the first run to be applying")
        waiter = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
        wait_for(lambda: waiting_for_project_lock(db) == 1, "the second run to wait for the lock")
        impatient = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last, NO_WAIT_META).result()
    finally:
        pause.release()
    assert not impatient["success"]
    assert any(
        f"another run of raw/meta_ads_insights/{ACCOUNT} is already running (not waiting for it)" in e
        or f"another run of staging/insights_meta_ads/{ACCOUNT} is already running (not waiting for it)" in e
        for e in impatient["errors"]
    ), impatient["errors"]
    results = [first_run.result(), waiter.result()]
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    wait_for(lambda: not client_sessions(db) - ours, "the runs' sessions to end")
    pause.remove()
    # The second, though it waited, found what the first stored: every row unchanged.
    second = results[1]["materialized"]["raw/meta_ads_insights"]
    assert (second["rows_inserted"], second["rows_updated"], second["rows_deleted"]) == (0, 0, 0)
    params = {"account": ACCOUNT, "first": first, "last": last}
    assert {t: stable(db, t, RANGE, params) for t in (RAW, STAGING)} == reference(
        make_db, make_defs, monkeypatch, db, META_JOB, ACCOUNT, first, last, {RAW: RANGE, STAGING: RANGE}
    )


def test_the_same_chatwoot_tenant_twice_at_once_one_waits_one_fails_fast_no_duplicates(
    make_defs, make_db, vetorial_env, chatwoot_source, monkeypatch, tmp_path
):
    db = vetorial_env
    Warehouse(url=db.url).ensure_schema()
    pause = Pause(db, "raw.conversas_analytics", at_row=15)  # the first run, mid-COPY of its first load
    ours = client_sessions(db)
    first_run = TenantRun(tmp_path, TENANT, {"chunk_rows": 10})
    try:
        wait_for(pause.waiting, "the first run to be loading")
        waiter = TenantRun(tmp_path, TENANT)
        wait_for(lambda: waiting_for_project_lock(db) == 1, "the second run to wait for the tenant's lock")
        impatient = TenantRun(tmp_path, TENANT, {"lock_wait_seconds": 0}).result()
    finally:
        pause.release()
    assert not impatient["success"]
    assert any(
        f"another run of raw/conversas_analytics/{TENANT} is already running (not waiting for it)" in e
        for e in impatient["errors"]
    ), impatient["errors"]
    results = [first_run.result(), waiter.result()]
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    wait_for(lambda: not client_sessions(db) - ours, "the runs' sessions to end")
    pause.remove()
    assert [r["materialized"]["load_type"] for r in results] == ["full", "incremental"]
    assert results[1]["materialized"]["rows_inserted"] == 0
    with db.connect() as conn:
        statuses = conn.execute("SELECT execution_id, status FROM ops.etl_control ORDER BY id").fetchall()
    assert sorted(statuses) == sorted(
        [(results[0]["run_id"], "success"), (results[1]["run_id"], "success"), (impatient["run_id"], "failed")]
    )
    assert chatwoot_stable(db) == chatwoot_reference(make_db, make_defs, monkeypatch, db)


def test_a_backfill_overlapping_the_schedule_window_loses_no_update_and_does_not_deadlock(
    make_defs, make_db, instance, vetorial_env, big_graph_api, monkeypatch, tmp_path
):
    db = vetorial_env
    monkeypatch.setenv("VETORIAL_META_LOOKBACK_DAYS", "3")
    today = sandbox_today()
    first, last = today - timedelta(days=9), today  # the backfill: 10 days, 24 pages of 500 rows
    defs = make_defs()
    schedule = defs.resolve_schedule_def("meta_ads_every_4_hours")
    now = datetime.combine(today, datetime.min.time(), ZoneInfo("America/Sao_Paulo")) + timedelta(hours=12)
    with DagsterInstance.ephemeral() as schedule_instance:
        requests = schedule.evaluate_tick(
            build_schedule_context(instance=schedule_instance, scheduled_execution_time=now)
        ).run_requests
    (tick,) = [
        r
        for r in requests
        if f"|{ACCOUNT}" in r.tags["dagster/asset_partition_range_start"]
        or r.tags["dagster/asset_partition_range_start"].startswith(f"{ACCOUNT}|")
    ]
    restated = today - timedelta(days=2)  # the schedule window's first day
    # The backfill's pull, well past the restated day's pages, waits on the network.
    held = big_graph_api.faults.add(hold=True, times=1, path_contains="insights", skip=21)
    backfill = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
    try:
        assert held.reached.wait(120)
        big_graph_api.restate(ACCOUNT, restated)  # Meta restates it; the schedule's pull sees the new rows
        scheduled = defs.resolve_job_def(META_JOB).execute_in_process(instance=instance, tags=tick.tags)
        assert scheduled.success
    finally:
        held.release()
    result = backfill.result()
    assert result["success"], result["errors"]
    # Its rows of the restated day were older than what the schedule stored: left out, counted.
    assert result["materialized"]["raw/meta_ads_insights"]["rows_superseded"] > 0
    assert result["materialized"]["staging/insights_meta_ads"]["rows_superseded"] > 0
    params = {"account": ACCOUNT, "first": first, "last": last}
    # A run that never met another one, after the restatement.
    assert {t: stable(db, t, RANGE, params) for t in (RAW, STAGING)} == reference(
        make_db, make_defs, monkeypatch, db, META_JOB, ACCOUNT, first, last, {RAW: RANGE, STAGING: RANGE}
    )


TENANTS_FILE = """tenants:
  - id: allpfit
    name: AllpFit
    chatwoot: {account_id: 1, inbox_ids: [14, 15]}
  - id: lacrei
    name: Lacrei Saude
    chatwoot: {account_id: 2, inbox_ids: [21]}
  - id: allpfit_inbox_16
    name: AllpFit inbox 16
    chatwoot: {account_id: 1, inbox_ids: [16]}
"""


def test_several_chatwoot_tenants_in_parallel_each_under_its_own_lock(
    vetorial_env, chatwoot_source, monkeypatch, tmp_path
):
    db = vetorial_env
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text(TENANTS_FILE)
    monkeypatch.setenv("VETORIAL_TENANTS_FILE", str(tenants_file))
    scopes = {"allpfit": (1, (14, 15)), "lacrei": (2, (21,)), "allpfit_inbox_16": (1, (16,))}
    Warehouse(url=db.url).ensure_schema()
    # Every sync waits at the first row it writes: inside its data transaction, under its lock.
    pause = Pause(db, "raw.conversas_analytics", at_row=1, and_after=True)
    ours = client_sessions(db)
    runs = [TenantRun(tmp_path, tenant) for tenant in scopes]
    try:
        wait_for(lambda: len(pause.waiters()) == len(scopes), "every tenant's sync to be writing at once")
        with db.connect() as other:  # each tenant's lock is held, by its own run, all at the same time
            for tenant in scopes:
                with pytest.raises(LockBusyError):
                    advisory_xact_lock(other, "raw/conversas_analytics", tenant, timeout_seconds=0)
        assert waiting_for_project_lock(db) == 0  # and none waits for another's
    finally:
        pause.release()
    results = [run.result() for run in runs]
    wait_for(lambda: not client_sessions(db) - ours, "the runs' sessions to end")
    pause.remove()
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    with db.connect() as conn:
        loaded = dict(conn.execute("SELECT tenant_id, count(*) FROM raw.conversas_analytics GROUP BY 1").fetchall())
        statuses = conn.execute("SELECT tenant_id, status FROM ops.etl_control ORDER BY 1").fetchall()
    assert loaded == {
        tenant: len(chatwoot_source.conversation_ids(account, inboxes)) for tenant, (account, inboxes) in scopes.items()
    }
    assert statuses == [(tenant, "success") for tenant in sorted(scopes)]


def test_no_lock_is_held_while_the_graph_api_stalls_another_session_takes_it(vetorial_env, graph_api, tmp_path):
    db = vetorial_env
    first, last = sandbox_today() - timedelta(days=3), sandbox_today() - timedelta(days=1)
    held = graph_api.faults.add(hold=True, times=1, path_contains="insights")
    run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
    with db.connect() as other:
        try:
            assert held.reached.wait(120), "the run never asked the Graph API"
            # The very locks the run's apply takes, at once (timeout 0): nobody holds them.
            for asset in ("raw/meta_ads_insights", "staging/insights_meta_ads"):
                advisory_xact_lock(other, asset, ACCOUNT, timeout_seconds=0)
        finally:
            held.release()
        # Now it is the run that waits, at its apply, for this session.
        wait_for(lambda: waiting_for_project_lock(db) == 1, "the run to wait for the locks at its apply")
        other.rollback()
    result = run.result()
    assert result["success"], result["errors"]
    assert result["materialized"]["raw/meta_ads_insights"]["rows_inserted"] > 0


def test_a_held_lock_is_refused_to_a_second_session_at_once(vetorial_env):
    """The check above can fail: with the lock held, a second session's timeout-0 take raises."""
    with vetorial_env.connect() as holder, vetorial_env.connect() as other:
        advisory_xact_lock(holder, "raw/meta_ads_insights", ACCOUNT, timeout_seconds=0)
        with pytest.raises(LockBusyError):
            advisory_xact_lock(other, "raw/meta_ads_insights", ACCOUNT, timeout_seconds=0)


def test_chatwoot_reads_its_source_under_the_tenant_lock(vetorial_env, source, proxy, tmp_path):
    """By design (docs/reliability.md): the tenant's lock is held while the sync waits on its
    source (the network stalled mid-stream, after the second FETCH), and another run of the
    tenant cannot take it; runs of other tenants can."""
    db = vetorial_env
    stalled, go_on = threading.Event(), threading.Event()

    def stall() -> None:
        stalled.set()
        go_on.wait(120)

    proxy.arm(FETCH, nth=2, action=stall)
    run = TenantRun(tmp_path, TENANT, {"chunk_rows": 20})
    try:
        assert stalled.wait(120), "the sync never fetched twice"
        with db.connect() as other:
            with pytest.raises(LockBusyError):
                advisory_xact_lock(other, "raw/conversas_analytics", TENANT, timeout_seconds=0)
            advisory_xact_lock(other, "raw/conversas_analytics", "lacrei", timeout_seconds=0)
    finally:
        go_on.set()
    result = run.result()
    assert result["success"], result["errors"]
    assert result["materialized"]["rows_inserted"] == len(source[1].conversation_ids(1, (14, 15)))
