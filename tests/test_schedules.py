"""Schedules run as soon as the daemon runs (like the sensors); VETORIAL_SCHEDULES=off stops them.

The scheduler daemon's own iteration over the code location: with nothing turned on in the
UI, two iterations five hours apart launch the runs of every schedule whose cron time fell
between them (Meta every 4 h; the 03:00 and 06:30 ones when the window crosses them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import DefaultScheduleStatus, RunsFilter

# Private Dagster entry points (no public API drives the scheduler in-process); pinned by dagster<1.14.
from dagster._core.scheduler.instigation import InstigatorType
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._scheduler.scheduler import launch_scheduled_runs

from tests.daemon_workspace import daemon_workspace, queued_instance
from vetorial_assets.definitions import build_definitions
from vetorial_assets.run_tags import TRIGGERED_BY_TAG
from vetorial_assets.settings import ConfigError, load_settings

SCHEDULES = {"meta_ads_every_4_hours", "instagram_follows_daily", "chatwoot_daily_0300"}


def scheduler_iteration(workspace, at: datetime) -> None:
    list(
        launch_scheduled_runs(
            workspace, get_default_daemon_logger("SchedulerDaemon"), end_datetime_utc=at, iteration_times={}
        )
    )


def launched_by_schedules(workspace) -> tuple[set[str], list]:
    instance = workspace.instance
    # Yesterday 00:00 to 05:00 UTC (21:00 to 02:00 in Sao Paulo): Meta's 4-hourly schedule
    # fires once inside (00:00 local), the 03:00 and 06:30 ones do not; its window ends on a
    # day that already has a partition.
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    scheduler_iteration(workspace, start)
    scheduler_iteration(workspace, start + timedelta(hours=5))
    ticks = {state.instigator_name for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)}
    return ticks, instance.get_runs(RunsFilter(tags={TRIGGERED_BY_TAG: "schedule"}))


@pytest.fixture
def daemon(vetorial_env):
    with queued_instance() as instance, daemon_workspace(instance) as workspace:
        yield workspace


def test_schedules_run_by_default(vetorial_env, daemon):
    defs = build_definitions(load_settings())
    assert {s.name: s.default_status for s in defs.schedules} == dict.fromkeys(SCHEDULES, DefaultScheduleStatus.RUNNING)
    states, runs = launched_by_schedules(daemon)
    assert states == SCHEDULES  # every schedule is tracked as running, declared in code
    # The Meta tick: one queued run per ad account, nobody having turned anything on.
    assert sorted((r.job_name, r.tags["dagster/asset_partition_range_start"].split("|")[0]) for r in runs) == [
        ("meta_ads_refresh", f"act_10000000000000{i}") for i in (1, 2, 3)
    ]


def test_vetorial_schedules_off_keeps_them_stopped(vetorial_env, monkeypatch):
    monkeypatch.setenv("VETORIAL_SCHEDULES", "off")
    defs = build_definitions(load_settings())
    assert {s.default_status for s in defs.schedules} == {DefaultScheduleStatus.STOPPED}
    with queued_instance() as instance, daemon_workspace(instance) as workspace:
        states, runs = launched_by_schedules(workspace)
    assert (states, runs) == (set(), [])


def test_vetorial_schedules_accepts_on_or_off_only(monkeypatch):
    monkeypatch.setenv("VETORIAL_SCHEDULES", "no")
    with pytest.raises(ConfigError, match=r"VETORIAL_SCHEDULES must be 'on' or 'off', got 'no'"):
        load_settings()
    monkeypatch.setenv("VETORIAL_SCHEDULES", "ON")
    assert load_settings().schedules_running
