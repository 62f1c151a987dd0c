"""The one place that assembles the code location's Definitions: every source's and
warehouse layer's own definitions (vetorial_assets/sources.py), merged, plus what spans
sources (alerts, the freshness sensor, the declarative-automation sensor) and the resources
of the environment."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
)

from .alerts.freshness import build_freshness_sensor
from .alerts.sensors import ALERT_SENSORS
from .environment import build_resources
from .settings import Settings, load_settings
from .sources import SOURCES
from .tenants import Tenants, load_tenants

AUTOMATION_SENSOR = "vetorial_automation"


def automation_sensor() -> AutomationConditionSensorDefinition:
    """Declarative automation, running by default: a source materialization flows down to
    the model and marts (their AutomationCondition.eager()) with no schedule of their own."""
    return AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        description="Evaluates the assets' automation conditions: model and marts follow their sources.",
    )


def build_definitions(settings: Settings | None = None, tenants: Tenants | None = None) -> Definitions:
    settings = settings or load_settings()
    tenants = tenants or load_tenants(settings.tenants_file)
    # Running as soon as the daemon runs (they replace cron jobs); VETORIAL_SCHEDULES=off stops them.
    schedule_status = DefaultScheduleStatus.RUNNING if settings.schedules_running else DefaultScheduleStatus.STOPPED
    sources = [source.defs(settings, tenants, schedule_status) for source in SOURCES]
    # The freshness sensor requests refreshes through the sources' own jobs.
    freshness = build_freshness_sensor([job for source in sources for job in source.jobs or ()])
    return Definitions.merge(
        *sources,
        Definitions(sensors=[*ALERT_SENSORS, freshness, automation_sensor()], resources=build_resources(settings)),
    )


defs = build_definitions()
