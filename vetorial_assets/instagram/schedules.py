"""Instagram: daily, for D-1 and D-2 (Meta's numbers can arrive up to 48 h late)."""

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

from ..partitions import ACCOUNT_DIM, range_tags
from ..run_tags import TRIGGERED_BY_TAG
from ..settings import DEFAULT_TIMEZONE
from .assets import RAW_KEY

JOB_NAME = "instagram_follows_refresh"
CRON = "30 6 * * *"
LATE_DAYS = 2
REFRESH_EVERY = timedelta(days=1)  # the cadence of CRON


def build_instagram_schedule(
    partitions: MultiPartitionsDefinition, default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING
):
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(RAW_KEY),
        partitions_def=partitions,
        description="Instagram follows for a date range of one account.",
    )

    @schedule(
        job=job,
        cron_schedule=CRON,
        execution_timezone=DEFAULT_TIMEZONE,
        default_status=default_status,
        description="Every day: D-1 and D-2 for every Instagram account (late data is re-asked).",
    )
    def instagram_follows_daily(context: ScheduleEvaluationContext):
        now = context.scheduled_execution_time or datetime.now(ZoneInfo(DEFAULT_TIMEZONE))
        today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
        first, last = (today - timedelta(days=LATE_DAYS)).isoformat(), (today - timedelta(days=1)).isoformat()
        for account in partitions.get_partitions_def_for_dimension(ACCOUNT_DIM).get_partition_keys():
            yield RunRequest(
                run_key=f"{account}:{today.isoformat()}",
                tags={**range_tags(account, first, last), TRIGGERED_BY_TAG: "schedule"},
            )

    return job, instagram_follows_daily
