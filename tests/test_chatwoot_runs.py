"""ops.etl_control tells the truth about every Chatwoot run: what it did, and how it ended.

- the audit label is decided under the tenant's lock from what the run does (a reconcile is
  `reconcile`; a run that waited behind a first load and then ran incrementally is
  `incremental`), issue 10 defect 7 and issue 11 defect 10;
- a run killed mid-sync (SIGKILL, a real process) leaves a `running` row that the next run
  of the tenant closes as `failed`, naming the dead run; a run waiting for the lock is not
  mistaken for a dead one (issue 11 defect 3);
- `lock_wait_seconds: 0` fails at once with "already running" (issue 11 defect 7);
- the "source has extra columns" warning is reported once per run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from dagster import AssetKey, DagsterInstance

from resources.load import advisory_xact_lock
from tests.conftest import REPO
from vetorial_assets.chatwoot import control
from vetorial_assets.chatwoot.schedules import JOB_NAME

OP = "raw__conversas_analytics"
TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)
ASSET = "raw/conversas_analytics"
GUARD_SECONDS = 120  # a bound on waiting loops, so a broken build fails instead of hanging


def sync(defs, instance, raise_on_error=True, **config):
    run_config = {"ops": {OP: {"config": config}}} if config else None
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, partition_key=TENANT, run_config=run_config, raise_on_error=raise_on_error
    )


def control_rows(db):
    with db.connect() as conn:
        return conn.execute(
            "SELECT execution_id, status, load_type, error_message, completed_at IS NOT NULL"
            " FROM ops.etl_control WHERE tenant_id = %s ORDER BY id",
            (TENANT,),
        ).fetchall()


def wait_until(condition, what: str):
    deadline = time.monotonic() + GUARD_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def advisory_waiters(db) -> int:
    with db.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]


# ---------------------------------------------------------------- audit labels


def test_a_reconcile_run_is_recorded_as_reconcile(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    assert sync(defs, instance, reconcile=True).success
    assert sync(defs, instance).success
    assert sync(defs, instance, full_refresh=True, reconcile=True).success
    assert [r[2] for r in control_rows(vetorial_env)] == ["full", "reconcile", "incremental", "full"]
    # The same label as the materialization's metadata.
    records = instance.fetch_materializations(AssetKey(["raw", "conversas_analytics"]), limit=10, ascending=True)
    assert [r.asset_materialization.metadata["load_type"].value for r in records.records] == [
        "full",
        "reconcile",
        "incremental",
        "full",
    ]


def test_a_run_that_waited_behind_a_first_load_is_recorded_as_incremental(make_defs, vetorial_env, chatwoot_source):
    defs = make_defs()
    results = []

    def run():
        with DagsterInstance.ephemeral() as inst:
            results.append(sync(defs, inst, raise_on_error=False))

    with vetorial_env.connect() as holder:
        # Both runs find no watermark before the lock (each expects a full load), then wait.
        advisory_xact_lock(holder, ASSET, TENANT)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: advisory_waiters(vetorial_env) == 2, "both runs waiting for the tenant's lock")
        assert [r[1:3] for r in control_rows(vetorial_env)] == [("running", "full")] * 2
        holder.rollback()
    for t in threads:
        t.join(GUARD_SECONDS)
    assert [r.success for r in results] == [True, True]
    rows = control_rows(vetorial_env)
    # The first through the lock loaded everything; the second continued from its watermark,
    # and was not mistaken for a dead run while it waited.
    assert sorted((status, load_type, error) for _run, status, load_type, error, _done in rows) == [
        ("success", "full", None),
        ("success", "incremental", None),
    ]


# ---------------------------------------------------------------- abandoned rows

SYNC_IN_A_PROCESS = """
from dagster import DagsterInstance
from vetorial_assets.definitions import build_definitions
from vetorial_assets.settings import load_settings

defs = build_definitions(load_settings())
with DagsterInstance.ephemeral() as instance:
    defs.resolve_job_def("chatwoot_sync").execute_in_process(instance=instance, partition_key="allpfit")
"""


def test_a_killed_sync_is_closed_as_failed_by_the_next_run(make_defs, instance, vetorial_env, chatwoot_source):
    with chatwoot_source.connect() as blocker:
        # The sync will block reading the source (mid-sync: its row written, the tenant's lock held).
        blocker.execute("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-c", SYNC_IN_A_PROCESS],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def reading_blocked() -> bool:
                with chatwoot_source.connect() as conn:
                    return (
                        conn.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                            " 'vetorial_assets' AND wait_event_type = 'Lock'"
                        ).fetchone()[0]
                        == 1
                    )

            wait_until(lambda: proc.poll() is not None or reading_blocked(), "the sync to block on the source")
            assert proc.poll() is None, "the sync ended before it could be killed"
            ((killed_run, status, *_rest),) = control_rows(vetorial_env)
            assert status == "running"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(GUARD_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        blocker.rollback()

    # Nothing else closes it: the row stays `running`, the zombie of issue 11.
    assert control_rows(vetorial_env) == [(killed_run, "running", "full", None, False)]
    result = sync(make_defs(), instance)
    assert result.success
    (run_a, status_a, _type_a, error_a, done_a), (run_b, status_b, type_b, error_b, _done_b) = control_rows(
        vetorial_env
    )
    assert (run_a, status_a, done_a) == (killed_run, "failed", True)
    assert error_a.startswith(f"abandoned: run {killed_run} stopped without closing this row")
    assert error_a.endswith(f"found and closed by run {result.run_id}")
    assert (run_b, status_b, type_b, error_b) == (result.run_id, "success", "full", None)
    with vetorial_env.connect() as conn:
        loaded = conn.execute(
            "SELECT count(*) FROM raw.conversas_analytics WHERE tenant_id = %s", (TENANT,)
        ).fetchone()[0]
    assert loaded == len(chatwoot_source.conversation_ids(ACCOUNT, INBOXES))


def test_only_rows_whose_claim_is_free_are_closed(vetorial_env):
    from resources.warehouse import Warehouse

    warehouse = Warehouse(url=vetorial_env.url)
    warehouse.ensure_schema()
    engine = warehouse.engine()
    ids = {
        run: control.start_run(
            engine,
            execution_id=run,
            asset_key=ASSET,
            tenant_id=TENANT,
            load_type="full",
            triggered_by="manual",
            watermark_start=None,
        )
        for run in ("dead-run", "waiting-run", "current-run")
    }
    with vetorial_env.connect() as waiting:
        control.claim_run(waiting, "waiting-run", TENANT)  # alive: its transaction holds the claim
        closed = control.close_abandoned(
            engine, asset_key=ASSET, tenant_id=TENANT, current_id=ids["current-run"], closed_by="current-run"
        )
        assert closed == ["dead-run"]
        waiting.rollback()
    by_run = {r[0]: r[1:] for r in control_rows(vetorial_env)}
    assert by_run["dead-run"][:1] == ("failed",) and "found and closed by run current-run" in by_run["dead-run"][2]
    assert by_run["waiting-run"] == ("running", "full", None, False)
    assert by_run["current-run"] == ("running", "full", None, False)


# ---------------------------------------------------------------- lock wait 0, warning once


def test_lock_wait_zero_fails_at_once_saying_already_running(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    with vetorial_env.connect() as holder:
        advisory_xact_lock(holder, ASSET, TENANT)
        # A guard: were 0 to mean "wait forever", the lock is freed later and the run succeeds.
        guard = threading.Timer(GUARD_SECONDS, holder.rollback)
        guard.start()
        try:
            result = sync(defs, instance, raise_on_error=False, lock_wait_seconds=0)
        finally:
            guard.cancel()
        holder.rollback()
    assert not result.success
    ((_run, status, _type, error, done),) = control_rows(vetorial_env)
    assert (status, done) == ("failed", True)
    assert error == (
        f"LockBusyError: another run of {ASSET}/{TENANT} is already running (not waiting for it); "
        "try again when it finishes"
    )


def test_the_extra_columns_warning_is_reported_once(make_defs, instance, vetorial_env, chatwoot_source, caplog):
    with caplog.at_level("DEBUG"):
        result = sync(make_defs(), instance)
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if "does not load" in (e.user_message or "")]
    assert warnings == ["source has column(s) the warehouse does not load: display_id, conversation_last_activity_at"]
    python_lines = [r for r in caplog.records if "display_id" in r.getMessage() and not r.name.startswith("dagster")]
    assert python_lines == []
