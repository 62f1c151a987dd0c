"""The staging layer's own assets (built from raw, not a source's staging): what it
contributes to the code location."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, Definitions

from asset_checks.layers import layer_checks

from ..partitions import by_tenant
from ..settings import Settings
from ..source import DemoJob, Source
from ..tenants import Tenants
from .conversations import JOB_NAME, build_staging_assets, build_staging_job


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    partitions = by_tenant([t.id for t in tenants.chatwoot_tenants])
    return Definitions(
        assets=build_staging_assets(partitions),
        asset_checks=layer_checks("staging"),
        jobs=[build_staging_job(partitions)],
    )


LAYER = Source(name="staging", defs=defs, demo=[DemoJob(JOB_NAME, "conversation_staging", runs_per="tenant")])
