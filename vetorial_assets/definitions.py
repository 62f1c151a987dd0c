"""The one place that assembles the code location's Definitions."""

from __future__ import annotations

from dagster import Definitions

from .environment import build_resources
from .meta.assets import build_meta_assets
from .meta.schedules import build_meta_schedule
from .partitions import date_by_account
from .settings import Settings, load_settings
from .tenants import Tenants, load_tenants


def build_definitions(settings: Settings | None = None, tenants: Tenants | None = None) -> Definitions:
    settings = settings or load_settings()
    tenants = tenants or load_tenants(settings.tenants_file)

    meta_partitions = date_by_account(settings.partitions_start, tenants.ad_accounts)
    meta_assets = build_meta_assets(tenants, meta_partitions)
    meta_job, meta_schedule = build_meta_schedule(meta_partitions, settings.meta_lookback_days)

    return Definitions(
        assets=[*meta_assets],
        jobs=[meta_job],
        schedules=[meta_schedule],
        resources=build_resources(settings),
    )


defs = build_definitions()
