"""Instagram follows: everything the source contributes to the code location."""

from __future__ import annotations

from datetime import timedelta

from dagster import DefaultScheduleStatus, Definitions, FreshnessPolicy

from asset_checks.instagram import CHECKS as TABLE_CHECKS

from ..partitions import date_by_account
from ..repull import RepullRule
from ..settings import Settings
from ..source import DemoJob, Source, with_freshness
from ..tenants import Tenants
from .assets import RAW_KEY, build_instagram_assets
from .schedules import JOB_NAME, LATE_DAYS, REFRESH_EVERY, build_instagram_schedule

# Daily for D-1/D-2.
FRESHNESS = {
    RAW_KEY: FreshnessPolicy.time_window(fail_window=timedelta(hours=50), warn_window=timedelta(hours=26)),
}
# Its newest day is yesterday (today's follows are not final): the freshness sensor judges that one.
FRESHNESS_DAY_OFFSET = {RAW_KEY: 1}


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    partitions = date_by_account(settings.partitions_start, tenants.instagram_accounts)
    job, schedule = build_instagram_schedule(partitions, schedule_status)
    return with_freshness(
        Definitions(
            assets=build_instagram_assets(tenants, partitions),
            asset_checks=TABLE_CHECKS,
            jobs=[job],
            schedules=[schedule],
        ),
        FRESHNESS,
        FRESHNESS_DAY_OFFSET,
    )


SOURCE = Source(
    name="instagram",
    defs=defs,
    # A day is final once pulled at the age the daily schedule pulls it last (LATE_DAYS).
    demo=[
        DemoJob(
            JOB_NAME,
            "instagram",
            runs_per="range",
            pulled_by=RAW_KEY.to_user_string(),
            repull=lambda _settings: RepullRule(LATE_DAYS, REFRESH_EVERY),
        )
    ],
)
