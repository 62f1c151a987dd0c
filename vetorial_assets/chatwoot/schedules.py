"""Chatwoot safety net: every day at 03:00 (America/Sao_Paulo), the seed's systemd timer.

The sensor does the incremental work as the source moves; this run re-reads every
tenant in reconcile mode, which also marks deleted conversations and catches rows whose
updated_at lagged behind their last change.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    define_asset_job,
    schedule,
)

from ..run_tags import TRIGGERED_BY_TAG
from ..settings import DEFAULT_TIMEZONE
from .assets import RAW_KEY

JOB_NAME = "chatwoot_sync"
CRON = "0 3 * * *"


def build_chatwoot_jobs(
    partitions: StaticPartitionsDefinition, default_status: DefaultScheduleStatus = DefaultScheduleStatus.RUNNING
):
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(RAW_KEY),
        partitions_def=partitions,
        description="Incremental Chatwoot sync of one tenant.",
    )

    @schedule(
        job=job,
        cron_schedule=CRON,
        execution_timezone=DEFAULT_TIMEZONE,
        default_status=default_status,
        description="Daily 03:00 reconciliation of every tenant (deletions, lagging rows).",
    )
    def chatwoot_daily_0300(context: ScheduleEvaluationContext):
        when = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
        for tenant in partitions.get_partition_keys():
            yield RunRequest(
                run_key=f"{tenant}:{when}",
                partition_key=tenant,
                run_config={"ops": {"raw__conversas_analytics": {"config": {"reconcile": True}}}},
                tags={TRIGGERED_BY_TAG: "schedule"},
            )

    return job, chatwoot_daily_0300
