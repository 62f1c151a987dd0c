"""Check alerts to Discord: red when a check's latest result fails at ERROR severity, green when it
passes again. Each check is announced once per failure (the cursor holds the failing ones), a
tick's alerts go out as a few embeds and one summary (notify.py), and each links to the check
and the run that evaluated it in the UI. WARN failures are not sent: they are in the UI and in
`vetorial doctor`."""

from __future__ import annotations

import json

from dagster import AssetCheckKey, AssetCheckSeverity, DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor
from dagster._core.storage.asset_check_execution_record import (
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from resources.discord import GREEN, RED, Alert, DiscordNotifier

from .links import check_url, run_url
from .notify import send_alerts

SENSOR_NAME = "discord_on_check_failure"


def latest_result(instance, key: AssetCheckKey) -> AssetCheckExecutionRecord | None:
    """The latest completed evaluation of the check (a planned one still running is skipped)."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status=COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES
    )
    return records[0] if records else None


def evaluation_of(record: AssetCheckExecutionRecord):
    event = record.event.dagster_event if record.event else None
    return event.event_specific_data if event else None


def failed_at_error(record: AssetCheckExecutionRecord) -> bool:
    if record.status != AssetCheckExecutionRecordStatus.FAILED:
        return False
    evaluation = evaluation_of(record)
    return evaluation is None or evaluation.severity == AssetCheckSeverity.ERROR


def _label(key: AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}: {key.name}"


def _failed_alert(key: AssetCheckKey, record: AssetCheckExecutionRecord) -> Alert:
    evaluation = evaluation_of(record)
    description = evaluation.description if evaluation and evaluation.description else "The check failed."
    return Alert(
        title=f"Check failed: {_label(key)}",
        description=description,
        color=RED,
        url=check_url(key),
        fields={
            "asset": key.asset_key.to_user_string(),
            "check": key.name,
            "partition": record.partition or "-",
            "run": run_url(record.run_id),
        },
    )


def _recovered_alert(key: AssetCheckKey, record: AssetCheckExecutionRecord) -> Alert:
    return Alert(
        title=f"Check passes again: {_label(key)}",
        description="The check's latest evaluation passed.",
        color=GREEN,
        url=check_url(key),
        fields={"asset": key.asset_key.to_user_string(), "check": key.name, "run": run_url(record.run_id)},
    )


def evaluate(context, discord: DiscordNotifier):
    failing: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    alerts, now_failing = [], {}
    for key in sorted(context.repository_def.asset_graph.asset_check_keys, key=lambda k: k.to_user_string()):
        record = latest_result(context.instance, key)
        name = key.to_user_string()
        if record is None:
            if name in failing:
                now_failing[name] = failing[name]
            continue
        if failed_at_error(record):
            if name not in failing:
                alerts.append(_failed_alert(key, record))
            now_failing[name] = record.id
        elif name in failing:
            alerts.append(_recovered_alert(key, record))
    send_alerts(discord, alerts, logger=context.log)
    context.update_cursor(json.dumps(now_failing, sort_keys=True))
    if not alerts:
        return SkipReason(f"{len(now_failing)} check(s) failing at ERROR, none changed")
    return None


@sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts a red Discord embed when a check fails at ERROR severity, a green one when it passes "
    "again (once each).",
)
def discord_on_check_failure(context: SensorEvaluationContext, discord: DiscordNotifier):
    return evaluate(context, discord)
