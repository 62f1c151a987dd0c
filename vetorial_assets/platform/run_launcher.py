"""`LocalRunLauncher`: Dagster's default launcher, plus a run-worker health check.

With run monitoring on, the daemon asks the launcher whether the worker of each STARTED
run is alive; Dagster's DefaultRunLauncher cannot answer, so a run whose worker was killed
(SIGKILL, OOM, a reboot, a `dagster asset materialize` killed mid-run) stayed STARTED
forever and held a slot of the run queue. Every run here runs on this machine, and the
worker records its pid in the RUN_START event: the worker is alive while a process with
that pid exists that had started by the time of the event (a reused pid belongs to a
process started later).
"""

from __future__ import annotations

import psutil
from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

# /proc start times are exact to a clock tick; the event timestamp follows the start.
_CLOCK_SLACK_S = 1.0


def worker_alive(pid: int, event_timestamp: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= event_timestamp + _CLOCK_SLACK_S
    except psutil.Error:
        return False


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers (all on this machine) can be health-checked."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        records = self._instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.RUN_START, limit=1, ascending=False
        ).records
        if not records:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no RUN_START event yet")
        entry = records[0].event_log_entry
        pid = entry.dagster_event.pid if entry.dagster_event else None
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "RUN_START event carries no pid")
        if worker_alive(pid, entry.timestamp):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker pid {pid} is gone (killed or crashed)")
