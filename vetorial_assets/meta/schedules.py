"""Meta re-pull: every 4 hours, the last `lookback_days` for every ad account.

Meta restates recent days (attribution windows), so the window is re-pulled, not just
today. Each account's window is one run (single-run backfill policy): one API range.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    MultiPartitionsDefinition,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from ..partitions import ACCOUNT_DIM, DATE_DIM, range_tags
from ..run_tags import TRIGGERED_BY_TAG
from ..settings import DEFAULT_TIMEZONE
from .assets import RAW_KEY, STAGING_KEY

JOB_NAME = "meta_ads_refresh"
CRON = "0 */4 * * *"
REFRESH_EVERY = timedelta(hours=4)  # the cadence of CRON


def window_days(now: datetime, lookback_days: int) -> list[str]:
    """ISO dates of the re-pull window ending today (local time), oldest first."""
    today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(lookback_days - 1, -1, -1)]


def build_meta_schedule(
    partitions: MultiPartitionsDefinition,
    lookback_days: int,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING,
):
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(RAW_KEY, STAGING_KEY),
        partitions_def=partitions,
        description="Raw and staging Meta insights for a date range.",
    )

    @schedule(
        job=job,
        cron_schedule=CRON,
        execution_timezone=DEFAULT_TIMEZONE,
        default_status=default_status,
        description=f"Re-pull the last {lookback_days} days of every ad account (Meta restates recent days).",
    )
    def meta_ads_every_4_hours(context: ScheduleEvaluationContext):
        now = context.scheduled_execution_time or datetime.now(ZoneInfo(DEFAULT_TIMEZONE))
        days = window_days(now, lookback_days)
        first_day = partitions.get_partitions_def_for_dimension(DATE_DIM).get_first_partition_key()
        days = [d for d in days if d >= first_day]
        accounts = partitions.get_partitions_def_for_dimension(ACCOUNT_DIM).get_partition_keys()
        for account in accounts:
            yield RunRequest(
                run_key=f"{account}:{now.isoformat()}",
                tags={**range_tags(account, days[0], days[-1]), TRIGGERED_BY_TAG: "schedule"},
            )

    return job, meta_ads_every_4_hours
