"""The model layer (dims and facts): what it contributes to the code location."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, Definitions

from asset_checks.layers import layer_checks

from ..settings import Settings
from ..source import Source
from ..tenants import Tenants
from .assets import build_model_assets
from .conversations import build_model_conversation_assets


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    return Definitions(
        assets=[*build_model_assets(tenants, settings.partitions_start), *build_model_conversation_assets()],
        asset_checks=layer_checks("model"),
    )


# Run by the mart layer's demo jobs (model and marts of one side are one job).
LAYER = Source(name="model", defs=defs)
