"""The one place that assembles the code location's Definitions."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
)

from .alerts.sensors import ALERT_SENSORS
from .chatwoot.assets import build_chatwoot_assets
from .chatwoot.schedules import build_chatwoot_jobs
from .chatwoot.sensors import build_chatwoot_sensor
from .environment import build_resources
from .freshness import with_freshness
from .instagram.assets import build_instagram_assets
from .mart.conversations import build_conversation_layers_job, build_mart_conversation_assets
from .model.conversations import build_model_conversation_assets
from .staging.conversations import build_staging_assets, build_staging_job
from .instagram.schedules import build_instagram_schedule
from .mart.assets import build_layers_job, build_mart_assets
from .meta.accounts import build_meta_accounts
from .meta.assets import build_meta_assets
from .meta.rebuild import build_rebuild_job
from .meta.schedules import build_meta_schedule
from .model.assets import build_model_assets
from .partitions import by_tenant, date_by_account
from .settings import Settings, load_settings
from .tenants import Tenants, load_tenants


AUTOMATION_SENSOR = "vetorial_automation"


def automation_sensor() -> AutomationConditionSensorDefinition:
    """Declarative automation, running by default: a source materialization flows down to
    the model and marts (their AutomationCondition.eager()) with no schedule of their own."""
    return AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR, target=AssetSelection.all(), default_status=DefaultSensorStatus.RUNNING,
        description="Evaluates the assets' automation conditions: model and marts follow their sources.")


def build_definitions(settings: Settings | None = None, tenants: Tenants | None = None) -> Definitions:
    settings = settings or load_settings()
    tenants = tenants or load_tenants(settings.tenants_file)

    # Running as soon as the daemon runs (they replace cron jobs); VETORIAL_SCHEDULES=off stops them.
    schedule_status = DefaultScheduleStatus.RUNNING if settings.schedules_running else DefaultScheduleStatus.STOPPED

    meta_partitions = date_by_account(settings.partitions_start, tenants.ad_accounts)
    meta_assets = build_meta_assets(tenants, meta_partitions)
    meta_job, meta_schedule = build_meta_schedule(meta_partitions, settings.meta_lookback_days, schedule_status)

    ig_partitions = date_by_account(settings.partitions_start, tenants.instagram_accounts)
    ig_assets = build_instagram_assets(tenants, ig_partitions)
    ig_job, ig_schedule = build_instagram_schedule(ig_partitions, schedule_status)

    tenant_partitions = by_tenant([t.id for t in tenants.chatwoot_tenants])
    chatwoot_assets = build_chatwoot_assets(tenants, tenant_partitions)
    chatwoot_job, chatwoot_schedule = build_chatwoot_jobs(tenant_partitions, schedule_status)
    chatwoot_sensor = build_chatwoot_sensor(tenants, chatwoot_job)

    accounts_asset, accounts_job, accounts_schedule = build_meta_accounts(tenants, schedule_status)
    rebuild_job = build_rebuild_job(meta_partitions)
    model_assets = build_model_assets(tenants, settings.partitions_start)
    mart_assets = build_mart_assets()
    # The conversation side of the warehouse layers, and the lead funnel.
    conversation_layers = [
        *build_staging_assets(tenant_partitions),
        *build_model_conversation_assets(),
        *build_mart_conversation_assets(),
    ]

    defs = Definitions(
        assets=[*meta_assets, accounts_asset, *ig_assets, *chatwoot_assets, *model_assets, *mart_assets,
                *conversation_layers],
        jobs=[meta_job, ig_job, chatwoot_job, accounts_job, rebuild_job, build_layers_job(),
              build_staging_job(tenant_partitions), build_conversation_layers_job()],
        schedules=[meta_schedule, ig_schedule, chatwoot_schedule, accounts_schedule],
        sensors=[chatwoot_sensor, *ALERT_SENSORS, automation_sensor()],
        resources=build_resources(settings),
    )
    return defs.map_resolved_asset_specs(func=with_freshness)


defs = build_definitions()
