"""The mart layer: what it contributes to the code location, and the jobs the demo runs for
the model and marts (the Meta/Instagram side first: the lead funnel reads its fact)."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, Definitions

from asset_checks.layers import layer_checks

from ..settings import Settings
from ..source import DemoJob, Source
from ..tenants import Tenants
from .assets import LAYERS_JOB, build_layers_job, build_mart_assets
from .conversations import LAYERS_JOB as CONVERSATION_LAYERS_JOB
from .conversations import build_conversation_layers_job, build_mart_conversation_assets


def defs(settings: Settings, tenants: Tenants, schedule_status: DefaultScheduleStatus) -> Definitions:
    return Definitions(
        assets=[*build_mart_assets(), *build_mart_conversation_assets()],
        asset_checks=layer_checks("mart"),
        jobs=[build_layers_job(), build_conversation_layers_job()],
    )


LAYER = Source(
    name="mart",
    defs=defs,
    demo=[
        DemoJob(LAYERS_JOB, "meta_layers", runs_per="once"),
        DemoJob(CONVERSATION_LAYERS_JOB, "conversation_layers", runs_per="once"),
    ],
)
