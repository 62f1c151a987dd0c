"""`vetorial demo`: materialize every asset end to end on the current configuration.

Runs go through the real Dagster instance (runs and events land in its PostgreSQL, so
the UI shows them afterwards), one run per account or tenant like a backfill would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult
from sqlalchemy import func, select

from .partitions import ACCOUNT_DIM, DATE_DIM, range_tags
from .run_tags import TRIGGERED_BY_TAG
from .settings import DEFAULT_TIMEZONE, Settings
from .source import DemoJob
from .sources import SOURCES
from .warehouse.tables import metadata

DEMO_DAYS = 30
# The console shows warnings and errors only; every event is still in the instance for the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# What the demo materializes, in dependency order: each source declares its jobs.
DEMO_JOBS: list[DemoJob] = [job for source in SOURCES for job in source.demo]


@dataclass(frozen=True)
class DemoRun:
    job_name: str
    phase: str  # what the run materializes: its spec's label ("meta", "chatwoot", ...)
    label: str
    tags: dict[str, str]
    partition_key: str | None = None


def plan_runs(defs: Definitions, days: int = DEMO_DAYS) -> list[DemoRun]:
    """One run per account (Meta, Instagram) for the last `days` days, one per tenant (Chatwoot)."""
    today = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
    first, last = (today - timedelta(days=days - 1)).isoformat(), today.isoformat()
    runs = []
    for spec in DEMO_JOBS:
        job = defs.resolve_job_def(spec.job_name)
        if spec.runs_per == "tenant":
            for tenant in job.partitions_def.get_partition_keys():
                runs.append(
                    DemoRun(
                        spec.job_name,
                        spec.label,
                        f"{spec.label} {tenant}",
                        {TRIGGERED_BY_TAG: "manual"},
                        partition_key=tenant,
                    )
                )
            continue
        dims = job.partitions_def.get_partitions_def_for_dimension(ACCOUNT_DIM)
        start = max(first, job.partitions_def.get_partitions_def_for_dimension(DATE_DIM).get_first_partition_key())
        for account in dims.get_partition_keys():
            runs.append(
                DemoRun(
                    spec.job_name,
                    spec.label,
                    f"{spec.label} {account} {start}..{last}",
                    {**range_tags(account, start, last), TRIGGERED_BY_TAG: "manual"},
                )
            )
    return runs


def execute_run(defs: Definitions, instance: DagsterInstance, run: DemoRun) -> ExecuteInProcessResult:
    """One planned run, in this process, recorded in `instance` (benchmarks/e2e_bench.py runs them the same way)."""
    job = defs.resolve_job_def(run.job_name)
    return job.execute_in_process(
        instance=instance, tags=run.tags, partition_key=run.partition_key, run_config=QUIET, raise_on_error=False
    )


def run_demo(defs: Definitions, instance: DagsterInstance, say: Callable[[str], None] = print) -> bool:
    ok = True
    for run in plan_runs(defs):
        started = time.monotonic()
        result = execute_run(defs, instance, run)
        status = "ok" if result.success else "FAILED"
        ok &= result.success
        say(f"  {status:6} {run.label} ({time.monotonic() - started:.1f}s, run {result.run_id[:8]})")
    return ok


def table_counts(settings: Settings, defs: Definitions) -> list[tuple[str, int]]:
    warehouse = defs.resources["warehouse"]
    warehouse.ensure_schema()
    counts = []
    with warehouse.engine().connect() as conn:
        for table in metadata.sorted_tables:
            counts.append((table.fullname, int(conn.execute(select(func.count()).select_from(table)).scalar_one())))
    return counts
