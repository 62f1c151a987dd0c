"""Resources chosen per environment, in one place: assets never ask "is this the sandbox?".

Unset URLs mean the local defaults (embedded PostgreSQL, sandbox Graph API, sandbox
Chatwoot); secrets come from env vars through `EnvVar`, so the UI and run config show
the variable's name, never its value.
"""

from __future__ import annotations

import os

from dagster import EnvVar

from resources.discord import DiscordNotifier
from resources.meta import MetaAdsResource
from resources.source_db import SourceDatabase
from resources.warehouse import Warehouse

from .settings import Settings


def _env_or_none(name: str):
    return EnvVar(name) if os.environ.get(name) else None


def build_resources(settings: Settings) -> dict:
    return {
        "warehouse": Warehouse(url=_env_or_none("VETORIAL_WAREHOUSE_URL"), home=str(settings.home)),
        "meta": MetaAdsResource(graph_url=settings.meta_graph_url),
        "source_db": SourceDatabase(url=_env_or_none("VETORIAL_CHATWOOT_URL"), sandbox_home=str(settings.home),
                                    relation=settings.chatwoot_relation),
        "discord": DiscordNotifier(webhook_url=_env_or_none("VETORIAL_DISCORD_WEBHOOK_URL")),
    }
