"""Resources chosen per environment, in one place: neither assets nor resources ask "is this
the sandbox?".

Unset URLs mean the local defaults (embedded PostgreSQL, sandbox Graph API, sandbox
Chatwoot: the sandbox's subclasses of the real resources); secrets come from env vars
through `EnvVar`, so the UI and run config show the variable's name, never its value.
"""

from __future__ import annotations

from dagster import EnvVar

from resources.discord import DiscordNotifier
from resources.meta import MetaAdsResource
from resources.source_db import SourceDatabase
from resources.warehouse import Warehouse

from .meta.graph.client import is_loopback
from .sandbox.resources import SandboxMetaAdsResource, SandboxSourceDatabase
from .settings import Settings, is_set


def _env_or_none(name: str):
    return EnvVar(name) if is_set(name) else None


def build_resources(settings: Settings) -> dict:
    # A loopback Graph URL is a sandbox too (a test's or a benchmark's): an unset token
    # variable gets the sandbox's token there.
    sandbox_meta = settings.sandbox_meta or (
        settings.meta_graph_url is not None and is_loopback(settings.meta_graph_url)
    )
    meta = (
        SandboxMetaAdsResource(graph_url=settings.meta_graph_url)
        if sandbox_meta
        else MetaAdsResource(graph_url=settings.meta_graph_url)
    )
    source_db = (
        SourceDatabase(url=EnvVar("VETORIAL_CHATWOOT_URL"), relation=settings.chatwoot_relation)
        if settings.chatwoot_url
        else SandboxSourceDatabase(home=str(settings.home), relation=settings.chatwoot_relation)
    )
    return {
        "warehouse": Warehouse(url=_env_or_none("VETORIAL_WAREHOUSE_URL"), home=str(settings.home)),
        "meta": meta,
        "source_db": source_db,
        "discord": DiscordNotifier(webhook_url=_env_or_none("VETORIAL_DISCORD_WEBHOOK_URL")),
    }
