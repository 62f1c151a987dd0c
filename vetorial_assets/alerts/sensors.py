"""Run alerts to Discord: red when a run fails, green when the same job and partition recover.

ALERT_SENSORS also holds the check alerts (checks.py); the freshness sensor (freshness.py) is
built in definitions.py with the sources' jobs it requests."""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from resources.discord import GREEN, RED, Alert, DiscordNotifier
from resources.support.redaction import redact

from .checks import discord_on_check_failure
from .links import run_url

PARTITION_TAG = "dagster/partition"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _partition_label(tags) -> str:
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    if tags.get(RANGE_START):
        return f"{tags[RANGE_START]} .. {tags.get(RANGE_END, '')}"
    return "-"


def _root_cause(error) -> str:
    """The innermost error: Dagster wraps ours in "Error occurred while executing op ..."."""
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}"


def failure_alert(context: RunFailureSensorContext) -> Alert:
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    step_errors = [
        _root_cause(e.step_failure_data.error)
        for e in context.get_step_failure_events()
        if e.step_failure_data and e.step_failure_data.error
    ]
    detail = step_errors[0] if step_errors else message
    return Alert(
        title=f"Run failed: {run.job_name}",
        description=redact(detail),
        color=RED,
        fields={"partition": _partition_label(run.tags), "run id": run.run_id},
        url=run_url(run.run_id),
    )


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING, description="Posts a red Discord embed for every failed run."
)
def discord_on_run_failure(context: RunFailureSensorContext, discord: DiscordNotifier):
    discord.send(failure_alert(context), logger=context.log)


def _previous_run_failed(context: RunStatusSensorContext) -> bool:
    """Did the run of this job and partition just before this one fail?"""
    run = context.dagster_run
    partition = _partition_label(run.tags)
    records = context.instance.get_run_records(
        filters=RunsFilter(job_name=run.job_name, statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]),
        limit=50,
    )  # newest first
    seen_current = False
    for record in records:
        if record.dagster_run.run_id == run.run_id:
            seen_current = True
        elif seen_current and _partition_label(record.dagster_run.tags) == partition:
            return record.dagster_run.status == DagsterRunStatus.FAILURE
    return False


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts a green Discord embed when a job and partition succeed after a failure.",
)
def discord_on_recovery(context: RunStatusSensorContext, discord: DiscordNotifier):
    if _previous_run_failed(context):
        run = context.dagster_run
        discord.send(
            Alert(
                title=f"Recovered: {run.job_name}",
                description="The last run of this job and partition failed; this one succeeded.",
                color=GREEN,
                fields={"partition": _partition_label(run.tags), "run id": run.run_id},
                url=run_url(run.run_id),
            ),
            logger=context.log,
        )


ALERT_SENSORS = [discord_on_run_failure, discord_on_recovery, discord_on_check_failure]
