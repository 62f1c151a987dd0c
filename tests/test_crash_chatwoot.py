"""Crash suite, Chatwoot: a tenant's sync in a process of its own, a real source and warehouse,
SIGKILL at a chosen point (issue 11, "Crash suite"); and Dagster's run monitoring marking the
killed run FAILED.

The sync is stopped deterministically: a row trigger holds its statement at the Nth row
(tests/crash_helpers.py `Pause`) mid-COPY of a first load (chunks of 10 rows, rows already
sent) or mid-merge of an incremental one; or a third session's lock on ops.rejected_values holds
it right after its data transaction committed (with its `success` row), before Dagster records
anything. A reader polls the tenant's rows and watermark in one snapshot all along and must
see only the state before the run or after a complete one. The next run closes a killed run's
`running` row as `failed` and succeeds; the tenant's rows then equal (checksum over ordered
rows) a run that never crashed.
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from tests.crash_helpers import Pause, Reader, TenantRun, client_sessions, digest, wait_for, waiting_on_relation
from tests.processes import BIN, Service
from vetorial_assets.chatwoot.schedules import JOB_NAME
from vetorial_assets.warehouse.tables import VOLATILE

pytestmark = pytest.mark.slow  # real processes killed at chosen points

TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)
TABLE = "raw.conversas_analytics"
OP = "raw__conversas_analytics"
TENANT_ROWS = "tenant_id = %(tenant)s"
# What a reader of the tenant sees, in one snapshot: its rows (every column) and its watermark.
STATE = (
    f"SELECT {digest(TABLE, TENANT_ROWS)}, (SELECT CAST(max(watermark_end) AS text) FROM ops.etl_control "
    "WHERE tenant_id = %(tenant)s AND status = 'success')"
)
PARAMS = {"tenant": TENANT}


def sync(defs, instance, **config):
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, partition_key=TENANT, run_config={"ops": {OP: {"config": config}}} if config else None
    )


def control_rows(db) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT execution_id, status, error_message FROM ops.etl_control WHERE tenant_id = %s ORDER BY id",
            (TENANT,),
        ).fetchall()


def stable(db) -> str:
    """rows:md5 of the tenant's rows without audit times."""
    with db.connect() as conn:
        return conn.execute(
            f"SELECT count(*) || ':' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))"  # noqa: S608
            f" FROM (SELECT CAST(to_jsonb(t) - CAST(%s AS text[]) AS text) AS r FROM {TABLE} AS t"
            f" WHERE tenant_id = %s) AS s",
            (sorted(VOLATILE[TABLE]), TENANT),
        ).fetchone()[0]


def reference(make_db, make_defs, monkeypatch, db) -> str:
    """The tenant's rows after one sync that never crashed, of the same source, in a database of its own."""
    ref = make_db("ref")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", ref.url)
    try:
        with DagsterInstance.ephemeral() as instance:
            assert sync(make_defs(), instance).success
        return stable(ref)
    finally:
        monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)


def change_the_source(source) -> None:
    """What agents do meanwhile: 20 conversations touched, 5 new ones."""
    later = source.now() + timedelta(hours=1)
    source.touch(source.conversation_ids(ACCOUNT, INBOXES)[:20], at=later)
    source.add(ACCOUNT, INBOXES[0], 5, at=later)


def copy_progress(db, pid: int):
    with db.connect() as conn:
        return conn.execute(
            "SELECT command, tuples_processed FROM pg_stat_progress_copy WHERE pid = %s", (pid,)
        ).fetchone()


@pytest.mark.parametrize("stop", ["mid-COPY of a first load", "mid-merge of an incremental run", "after the commit"])
def test_a_sync_killed_mid_copy_mid_merge_or_after_its_commit_shows_readers_before_or_after_only(
    stop, make_defs, make_db, instance, vetorial_env, chatwoot_source, monkeypatch, tmp_path
):
    db = vetorial_env
    if stop != "mid-COPY of a first load":
        assert sync(make_defs(), instance).success
        change_the_source(chatwoot_source)
    else:
        make_defs()  # the warehouse's schema, as any earlier run leaves it
        from resources.warehouse import Warehouse

        Warehouse(url=db.url).ensure_schema()
    runs_before = len(control_rows(db))
    with Reader(db, STATE, PARAMS) as reader:
        before = reader.read_once()
        if stop == "after the commit":
            holder = db.connect()
            holder.execute("LOCK TABLE ops.rejected_values IN ACCESS EXCLUSIVE MODE")
            ours = client_sessions(db)
            run = TenantRun(tmp_path, TENANT)
            try:
                wait_for(lambda: waiting_on_relation(db, "ops.rejected_values"), "the sync to reach its check")
                committed = reader.read_once()
                assert committed != before  # rows and watermark committed together
            finally:
                run.kill()
                holder.close()
                wait_for(lambda: not client_sessions(db) - ours, "the killed run's sessions to end")
            assert reader.read_once() == committed
            assert [status for _run, status, _error in control_rows(db)] == ["success", "success"]
        else:
            pause = Pause(db, TABLE, at_row=35 if stop == "mid-COPY of a first load" else 10)
            ours = client_sessions(db)
            run = TenantRun(tmp_path, TENANT, {"chunk_rows": 10})
            try:
                paused = wait_for(pause.waiting, "the sync to reach the paused row")
                if stop == "mid-COPY of a first load":
                    command, copied = copy_progress(db, paused)
                    assert command == "COPY FROM" and copied >= 30  # three chunks sent before it
            finally:
                run.kill()
                pause.release()
                wait_for(lambda: not client_sessions(db) - ours, "the killed run's sessions to end")
            pause.remove()
            assert reader.read_once() == before
            ((killed, status, _error),) = control_rows(db)[runs_before:]
            assert status == "running"  # nothing closed it: the process is gone
        result = sync(make_defs(), instance)
        after = reader.read_once()
        seen = reader.stop()
    assert set(seen) <= {before, after}, "a reader saw a state that is neither before nor after"
    rows = control_rows(db)
    if stop != "after the commit":
        assert rows[runs_before][:2] == (killed, "failed")
        assert rows[runs_before][2].startswith(f"abandoned: run {killed} stopped without closing this row")
        assert rows[runs_before][2].endswith(f"found and closed by run {result.run_id}")
    assert rows[-1][:2] == (result.run_id, "success")
    assert all(status != "running" for _run, status, _error in rows)
    assert stable(db) == reference(make_db, make_defs, monkeypatch, db)


def test_run_monitoring_marks_a_killed_sync_failed_and_the_next_run_closes_its_row(
    make_defs, instance, vetorial_env, chatwoot_source, tmp_path
):
    """A run recorded in a Dagster instance configured as deployed (LocalRunLauncher, run
    monitoring on), its worker SIGKILLed mid-COPY: nothing notices until run monitoring's
    pass (Dagster's own `monitor_started_run`, what the daemon calls each poll), which marks
    it FAILURE; the next run closes its audit row."""
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    from vetorial_assets.platform.instance import DAGSTER_YAML, LOG_LEVEL, MAX_RUNTIME_SECONDS

    db = vetorial_env
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        DAGSTER_YAML.format(
            marker="# test", home_line="#", storage="", log_level=LOG_LEVEL, max_runtime=MAX_RUNTIME_SECONDS
        )
    )
    from resources.warehouse import Warehouse

    Warehouse(url=db.url).ensure_schema()
    pause = Pause(db, TABLE, at_row=35)
    ours = client_sessions(db)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    worker = Service(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "vetorial_assets.definitions",
            "--select",
            "raw/conversas_analytics",
            "--partition",
            TENANT,
        ],
        env,
        tmp_path / "run.log",
    )
    try:
        with DagsterInstance.from_config(str(dagster_home)) as deployed:
            assert type(deployed.run_launcher).__name__ == "LocalRunLauncher" and deployed.run_monitoring_enabled
            wait_for(lambda: pause.waiting() or worker.proc.poll() is not None, "the run to reach the paused row")
            assert worker.proc.poll() is None, worker.output()[-3000:]
            (record,) = deployed.get_run_records(RunsFilter())
            assert record.dagster_run.status == DagsterRunStatus.STARTED
            os.killpg(worker.proc.pid, signal.SIGKILL)  # the run worker and its step process
            worker.proc.wait(60)
            pause.release()
            wait_for(lambda: not client_sessions(db) - ours, "the killed run's sessions to end")
            (record,) = deployed.get_run_records(RunsFilter())
            assert record.dagster_run.status == DagsterRunStatus.STARTED  # nothing else notices
            monitor_started_run(deployed, None, record, logging.getLogger("test.run_monitoring"))
            run = deployed.get_run_by_id(record.dagster_run.run_id)
            assert run.status == DagsterRunStatus.FAILURE
            messages = [e.message for e in deployed.all_logs(run.run_id)]
            assert any("run worker pid" in m and "is gone" in m for m in messages), messages
    finally:
        worker.close()
        pause.remove()
    ((killed, status, _error),) = control_rows(db)
    assert (killed, status) == (run.run_id, "running")
    result = sync(make_defs(), instance)
    assert [r[:2] for r in control_rows(db)] == [(run.run_id, "failed"), (result.run_id, "success")]
    with db.connect() as conn:
        assert conn.execute(f"SELECT count(*) FROM {TABLE} WHERE tenant_id = %s", (TENANT,)).fetchone()[0] == len(  # noqa: S608
            chatwoot_source.conversation_ids(ACCOUNT, INBOXES)
        )
