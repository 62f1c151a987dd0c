"""The sandbox's resources: the real resources pointed at the local fakes.

environment.py chooses them when no Graph URL or token / no Chatwoot URL is configured; the
resources themselves never ask whether they are the sandbox.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from pydantic import Field

from resources.meta import MetaAdsResource
from resources.source_db import SourceDatabase

from ..settings import meta_graph_url, secret
from .chatwoot_db import ensure_sandbox_chatwoot
from .graph_api import SANDBOX_TOKEN, SandboxGraphAPI

_graph_api: SandboxGraphAPI | None = None
_graph_api_lock = threading.Lock()


def sandbox_graph_url(ads_per_account: int = 20) -> str:
    """URL of this process's sandbox Graph API, started on first use (127.0.0.1, free port)."""
    global _graph_api
    with _graph_api_lock:
        if _graph_api is None:
            api = SandboxGraphAPI(ads_per_account=ads_per_account, record_requests=False)
            api.start()
            atexit.register(api.stop)
            _graph_api = api
        return _graph_api.base_url


class SandboxMetaAdsResource(MetaAdsResource):
    """The Meta resource against this process's sandbox Graph API (started on first use); a
    token variable left unset gets the sandbox's token."""

    sandbox_ads_per_account: int = 20

    def base_url(self) -> str:
        return (self.graph_url or meta_graph_url() or sandbox_graph_url(self.sandbox_ads_per_account)).rstrip("/")

    def token(self, token_env: str = "META_ACCESS_TOKEN", base_url: str | None = None) -> str:
        return super().token(token_env, base_url) if secret(token_env) else SANDBOX_TOKEN


class SandboxSourceDatabase(SourceDatabase):
    """The Chatwoot source as the sandbox database in the embedded server under `home`
    (created and seeded on first use, not when definitions load)."""

    home: str = Field(description="VETORIAL_HOME: the embedded server holding the sandbox Chatwoot database.")

    def resolved_url(self) -> str:
        return self.url or ensure_sandbox_chatwoot(Path(self.home))
