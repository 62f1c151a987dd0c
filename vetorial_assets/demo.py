"""`vetorial demo`: materialize every asset end to end on the current configuration.

Runs go through the real Dagster instance (runs and events land in its PostgreSQL, so
the UI shows them afterwards), one run per account or tenant like a backfill would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult
from sqlalchemy import func, select

from .partitions import ACCOUNT_DIM, DATE_DIM, range_tags
from .repull import days_to_pull
from .run_tags import TRIGGERED_BY_TAG
from .settings import DEFAULT_TIMEZONE, Settings
from .source import DemoJob
from .sources import SOURCES
from .warehouse.tables import metadata, pulled_days

DEMO_DAYS = 30
# The console shows warnings and errors only; every event is still in the instance for the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# What the demo materializes, in dependency order: each source, then each warehouse layer
# (staging, model, mart), declares its jobs.
DEMO_JOBS: list[DemoJob] = [job for source in SOURCES for job in source.demo]
FUNNEL_DAYS = 7


@dataclass(frozen=True)
class DemoRun:
    job_name: str
    phase: str  # what the run materializes: its spec's label ("meta", "chatwoot", ...)
    label: str
    tags: dict[str, str]
    partition_key: str | None = None


def plan_runs(
    defs: Definitions,
    settings: Settings,
    days: int = DEMO_DAYS,
    now: datetime | None = None,
    notes: list[str] | None = None,
) -> list[DemoRun]:
    """One run per account (Meta, Instagram) and contiguous range of the last `days` days that
    need a pull (vetorial_assets/repull.py: never pulled, or open and not pulled within the
    schedule's cadence), one per tenant (Chatwoot, conversation staging), one of each
    unpartitioned job (account metadata, the layers). Run again with nothing changed, the demo
    pulls nothing from the Graph API and its incremental runs find nothing to do. An account
    with nothing to pull is said in `notes`."""
    now = now or datetime.now(ZoneInfo(DEFAULT_TIMEZONE))
    runs = []
    for spec in DEMO_JOBS:
        job = defs.resolve_job_def(spec.job_name)
        if spec.runs_per == "once":
            runs.append(DemoRun(spec.job_name, spec.label, spec.label, {TRIGGERED_BY_TAG: "manual"}))
        elif spec.runs_per == "tenant":
            runs += [
                DemoRun(
                    spec.job_name,
                    spec.label,
                    f"{spec.label} {tenant}",
                    {TRIGGERED_BY_TAG: "manual"},
                    partition_key=tenant,
                )
                for tenant in job.partitions_def.get_partition_keys()
            ]
        else:
            runs += _range_runs(defs, settings, spec, job.partitions_def, days, now, notes)
    return runs


def _range_runs(defs, settings: Settings, spec: DemoJob, partitions, days: int, now: datetime, notes) -> list[DemoRun]:
    """The runs of a date x account job: per account, each contiguous range of days to pull."""
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    today = now.astimezone(tz).date()
    first_partition = date.fromisoformat(
        partitions.get_partitions_def_for_dimension(DATE_DIM).get_first_partition_key()
    )
    start = max(today - timedelta(days=days - 1), first_partition)
    wanted = [start + timedelta(days=n) for n in range((today - start).days + 1)]
    if not wanted:
        return []
    pulls = last_pulls(defs, spec.pulled_by, wanted[0], wanted[-1]) if spec.repull else {}
    runs = []
    for account in partitions.get_partitions_def_for_dimension(ACCOUNT_DIM).get_partition_keys():
        ranges = [(wanted[0], wanted[-1])]
        if spec.repull is not None:
            ranges = days_to_pull(wanted, pulls.get(account, {}), now, spec.repull(settings), tz)
        if not ranges and notes is not None:
            notes.append(f"{spec.label} {account}: nothing to pull (every day final or pulled within its cadence)")
        runs += [
            DemoRun(
                spec.job_name,
                spec.label,
                f"{spec.label} {account} {lo}..{hi}",
                {**range_tags(account, lo.isoformat(), hi.isoformat()), TRIGGERED_BY_TAG: "manual"},
            )
            for lo, hi in ranges
        ]
    return runs


def last_pulls(defs: Definitions, source: str, first: date, last: date) -> dict[str, dict[date, datetime]]:
    """Per account, when each of its stored days in first..last was pulled (ops.pulled_days)."""
    warehouse = _warehouse(defs)
    warehouse.ensure_schema()
    stmt = select(pulled_days.c.partition, pulled_days.c.day, pulled_days.c.pulled_at).where(
        pulled_days.c.source == source, pulled_days.c.day.between(first, last)
    )
    pulls: dict[str, dict[date, datetime]] = {}
    with warehouse.engine().connect() as conn:
        for account, day, pulled_at in conn.execute(stmt):
            pulls.setdefault(account, {})[day] = pulled_at
    return pulls


def execute_run(defs: Definitions, instance: DagsterInstance, run: DemoRun) -> ExecuteInProcessResult:
    """One planned run, in this process, recorded in `instance` (benchmarks/e2e_bench.py runs them the same way)."""
    job = defs.resolve_job_def(run.job_name)
    return job.execute_in_process(
        instance=instance, tags=run.tags, partition_key=run.partition_key, run_config=QUIET, raise_on_error=False
    )


def run_demo(
    defs: Definitions, settings: Settings, instance: DagsterInstance, say: Callable[[str], None] = print
) -> bool:
    ok = True
    notes: list[str] = []
    runs = plan_runs(defs, settings, notes=notes)
    for note in notes:
        say(f"  {'skip':6} {note}")
    for run in runs:
        started = time.monotonic()
        result = execute_run(defs, instance, run)
        status = "ok" if result.success else "FAILED"
        ok &= result.success
        say(f"  {status:6} {run.label} ({time.monotonic() - started:.1f}s, run {result.run_id[:8]})")
    return ok


def _warehouse(defs: Definitions):
    """The definitions' warehouse with its EnvVar URL resolved (as a run gets it)."""
    return defs.resources["warehouse"].process_config_and_initialize()


def table_counts(settings: Settings, defs: Definitions) -> list[tuple[str, int]]:
    warehouse = _warehouse(defs)
    warehouse.ensure_schema()
    counts = []
    with warehouse.engine().connect() as conn:
        for table in metadata.sorted_tables:
            counts.append((table.fullname, int(conn.execute(select(func.count()).select_from(table)).scalar_one())))
    return counts


# (column, printed heading)
FUNNEL_COLUMNS = (
    ("day", "day"),
    ("spend", "spend"),
    ("ad_leads", "ad leads"),
    ("conversations_started", "conversations"),
    ("qualified_leads", "qualified"),
    ("visits_scheduled", "visits"),
    ("crm_conversions", "conversions"),
    ("cost_per_ad_lead", "cost/ad lead"),
    ("cost_per_qualified_lead", "cost/qualified"),
)


def lead_funnel_lines(defs: Definitions, days: int = FUNNEL_DAYS) -> list[str]:
    """The lead funnel of the last `days` days (America/Sao_Paulo) per tenant, as lines to print."""
    table = metadata.tables["mart.lead_funnel_daily"]
    today = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
    stmt = (
        select(table.c.tenant_id, *[table.c[c] for c, _ in FUNNEL_COLUMNS])
        .where(table.c.day > today - timedelta(days=days), table.c.day <= today)
        .order_by(table.c.tenant_id, table.c.day)
    )
    with _warehouse(defs).engine().connect() as conn:
        rows = conn.execute(stmt).fetchall()
    if not rows:
        return [f"(no lead funnel rows in the last {days} days)"]
    header = " ".join(f"{heading:>14}" for _, heading in FUNNEL_COLUMNS)
    lines = []
    for tenant in sorted({r[0] for r in rows}):
        lines += [f"{tenant}:", header]
        lines += [" ".join(f"{'-' if v is None else str(v):>14}" for v in r[1:]) for r in rows if r[0] == tenant]
    return lines
