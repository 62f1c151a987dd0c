"""`vetorial demo` plans only what needs pulling (vetorial_assets/repull.py): the rule itself,
and the demo's plan and runs against a real warehouse and the sandbox Graph API (run twice,
the second pulls nothing; a day past its schedule's cadence, and only it, is pulled again)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vetorial_assets.repull import RepullRule, days_to_pull, needs_pull

TZ = ZoneInfo("America/Sao_Paulo")
META = RepullRule(settle_days=27, refresh_every=timedelta(hours=4))
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=TZ)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


@pytest.mark.parametrize(
    "day, last_pull, expected",
    [
        (date(2026, 12, 1), None, True),  # never pulled
        (date(2026, 12, 1), NOW - timedelta(hours=1), False),  # open, pulled within the cadence
        (date(2026, 12, 1), NOW - timedelta(hours=4), True),  # open, the cadence has passed
        # pulled on the last day of the window (age 27): final, however long ago
        (date(2026, 10, 1), _at(date(2026, 10, 28), 0), False),
        # pulled a day before that: Meta could still restate it
        (date(2026, 10, 1), _at(date(2026, 10, 27), 23), True),
    ],
)
def test_needs_pull(day, last_pull, expected):
    assert needs_pull(day, last_pull, NOW, META, TZ) is expected


def test_days_to_pull_groups_contiguous_days():
    days = [date(2026, 11, 20) + timedelta(days=n) for n in range(10)]
    fresh = NOW - timedelta(minutes=5)
    pulls = {d: fresh for d in days}
    for gap in (date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 27)):
        del pulls[gap]
    pulls[date(2026, 11, 29)] = NOW - timedelta(days=1)  # stale
    assert days_to_pull(days, pulls, NOW, META, TZ) == [
        (date(2026, 11, 22), date(2026, 11, 23)),
        (date(2026, 11, 27), date(2026, 11, 27)),
        (date(2026, 11, 29), date(2026, 11, 29)),
    ]
    assert days_to_pull(days, {d: fresh for d in days}, NOW, META, TZ) == []


def test_the_demo_run_twice_pulls_nothing_the_second_time(make_defs, instance, graph_api):
    from sqlalchemy import update

    from vetorial_assets.demo import DEMO_JOBS, execute_run, plan_runs
    from vetorial_assets.settings import load_settings
    from vetorial_assets.warehouse.tables import pulled_days

    settings = load_settings()
    defs = make_defs()
    pulled = {spec.label for spec in DEMO_JOBS if spec.repull is not None}
    days = 5

    first = plan_runs(defs, settings, days=days)
    api_runs = [run for run in first if run.phase in pulled]
    assert api_runs and all(f"..{datetime.now(TZ).date()}" in run.label for run in api_runs)
    for run in api_runs:
        assert execute_run(defs, instance, run).success, run.label
    insights = len(graph_api.requests_to("/insights"))
    assert insights > 0

    # Again, nothing changed: no range run at all, so no request reaches the Graph API.
    notes: list[str] = []
    second = plan_runs(defs, settings, days=days, notes=notes)
    assert [run for run in second if run.phase in pulled] == []
    assert len(notes) == len(api_runs) and all("nothing to pull" in note for note in notes)  # said, per account
    assert {run.phase for run in second} == {run.phase for run in first} - pulled

    # Meta's last two days pulled five hours ago (past the 4-hour cadence; Instagram's is a
    # day): only they are planned, for each ad account, as one range.
    warehouse = defs.resources["warehouse"].process_config_and_initialize()
    today = datetime.now(TZ).date()
    with warehouse.engine().begin() as conn:
        conn.execute(
            update(pulled_days)
            .where(pulled_days.c.source == "raw/meta_ads_insights", pulled_days.c.day >= today - timedelta(days=1))
            .values(pulled_at=datetime.now(UTC) - timedelta(hours=5))
        )
    third = [run for run in plan_runs(defs, settings, days=days) if run.phase in pulled]
    accounts = defs.resolve_job_def(third[0].job_name).partitions_def.get_partitions_def_for_dimension("account")
    assert [run.label for run in third] == [
        f"meta {account} {today - timedelta(days=1)}..{today}" for account in accounts.get_partition_keys()
    ]
    for run in third:
        assert execute_run(defs, instance, run).success, run.label
    # The Graph API was asked for those two days only.
    asked = [
        str(r.params["time_range"]) for r in graph_api.requests_to("/insights")[insights:] if "time_range" in r.params
    ]
    assert len(asked) == len(third), asked
    assert all(str(today - timedelta(days=1)) in a and str(today) in a for a in asked), asked
