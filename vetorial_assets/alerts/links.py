"""Links into the Dagster UI (VETORIAL_UI_URL) for alerts: a run, an asset, a check."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from dagster import AssetCheckKey, AssetKey

from ..settings import ui_url


def run_url(run_id: str) -> str:
    return f"{ui_url()}/runs/{run_id}"


def asset_url(key: AssetKey, partition: str | None = None) -> str:
    path = "/".join(quote(part, safe="") for part in key.path)
    query = f"?{urlencode({'view': 'partitions', 'partition': partition})}" if partition else ""
    return f"{ui_url()}/assets/{path}{query}"


def check_url(key: AssetCheckKey) -> str:
    path = "/".join(quote(part, safe="") for part in key.asset_key.path)
    return f"{ui_url()}/assets/{path}?{urlencode({'view': 'checks', 'checkDetail': key.name})}"
