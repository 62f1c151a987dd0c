"""Meta Ads: everything the source contributes to the code location."""

from __future__ import annotations

from datetime import timedelta

from dagster import DefaultScheduleStatus, Definitions, FreshnessPolicy

from asset_checks import meta_staging
from asset_checks.meta import CHECKS as TABLE_CHECKS

from ..partitions import date_by_account
from ..repull import RepullRule
from ..settings import Settings
from ..source import DemoJob, Source, with_freshness
from ..tenants import Tenants
from .accounts import JOB_NAME as ACCOUNTS_JOB
from .accounts import build_meta_accounts
from .assets import RAW_KEY, STAGING_KEY, build_meta_assets
from .rebuild import build_rebuild_job
from .schedules import JOB_NAME, REFRESH_EVERY, build_meta_schedule

# Re-pulled every 4 hours: a missed schedule shows as WARN, two in a row as FAIL.
FRESHNESS = {
    RAW_KEY: FreshnessPolicy.time_window(fail_window=timedelta(hours=9), warn_window=timedelta(hours=5)),
    STAGING_KEY: FreshnessPolicy.time_window(fail_window=timedelta(hours=9), warn_window=timedelta(hours=5)),
}


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    partitions = date_by_account(settings.partitions_start, tenants.ad_accounts)
    job, schedule = build_meta_schedule(partitions, settings.meta_lookback_days, schedule_status)
    accounts, accounts_job, accounts_schedule = build_meta_accounts(tenants, schedule_status)
    return with_freshness(
        Definitions(
            assets=[*build_meta_assets(tenants, partitions), accounts],
            asset_checks=[*meta_staging.build_checks(), *TABLE_CHECKS],
            jobs=[job, accounts_job, build_rebuild_job(partitions)],
            schedules=[schedule, accounts_schedule],
        ),
        FRESHNESS,
    )


SOURCE = Source(
    name="meta",
    defs=defs,
    demo=[
        # A day is final once pulled on the last day of the schedule's re-pull window (its age
        # then: lookback - 1 days); the window is Meta's attribution window.
        DemoJob(
            JOB_NAME,
            "meta",
            runs_per="range",
            pulled_by=RAW_KEY.to_user_string(),
            repull=lambda settings: RepullRule(settings.meta_lookback_days - 1, REFRESH_EVERY),
        ),
        DemoJob(ACCOUNTS_JOB, "meta_accounts", runs_per="once"),
    ],
)
