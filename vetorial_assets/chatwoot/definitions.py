"""Chatwoot conversations: everything the source contributes to the code location."""

from __future__ import annotations

from datetime import timedelta

from dagster import DefaultScheduleStatus, Definitions, FreshnessPolicy

from asset_checks.chatwoot import CHECKS as TABLE_CHECKS

from ..partitions import by_tenant
from ..settings import Settings
from ..source import Check, DemoJob, Source, with_freshness
from ..tenants import Tenants
from .assets import RAW_KEY, build_chatwoot_assets
from .doctor import source_role_check, source_schema_check
from .schedules import JOB_NAME, build_chatwoot_jobs
from .sensors import build_chatwoot_sensor

# Sensor-driven, with a daily 03:00 safety net.
FRESHNESS = {
    RAW_KEY: FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=6)),
}


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    partitions = by_tenant([t.id for t in tenants.chatwoot_tenants])
    job, schedule = build_chatwoot_jobs(partitions, schedule_status)
    return with_freshness(
        Definitions(
            assets=build_chatwoot_assets(tenants, partitions),
            asset_checks=TABLE_CHECKS,
            jobs=[job],
            schedules=[schedule],
            sensors=[build_chatwoot_sensor(tenants, job)],
        ),
        FRESHNESS,
    )


def doctor_checks(defs: Definitions, tenants: Tenants) -> list[tuple[str, Check]]:
    if "source_db" not in defs.resources:
        return []
    return [("chatwoot source schema", source_schema_check(defs)), ("chatwoot source role", source_role_check(defs))]


SOURCE = Source(
    name="chatwoot", defs=defs, demo=[DemoJob(JOB_NAME, "chatwoot", runs_per="tenant")], doctor_checks=doctor_checks
)
