"""Environment configuration, read once and validated.

Every variable is documented in README.md ("Configuration"). Secrets are read here only
to be handed to resources; they are never logged or put in run metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .home import resolve_home

DEFAULT_TIMEZONE = "America/Sao_Paulo"
DEFAULT_UI_URL = "http://127.0.0.1:3000"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the variable or file."""


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str | None
    tenants_file: Path
    chatwoot_url: str | None
    chatwoot_relation: str
    meta_graph_url: str | None
    meta_access_token_set: bool
    discord_webhook_set: bool
    lgpd_salt_set: bool
    partitions_start: date
    meta_lookback_days: int
    # VETORIAL_SCHEDULES=off: schedules start STOPPED (a dev box); on by default, like the sensors.
    schedules_running: bool = True
    # VETORIAL_DAGSTER_STORAGE_URL set: dagster.yaml reads the instance storage URL from it.
    dagster_storage_url_set: bool = False
    # An exported DAGSTER_HOME (else the home's dagster_home/).
    dagster_home: Path | None = None
    # Where the Dagster UI answers: alerts link to runs, assets and checks there.
    ui_url: str = DEFAULT_UI_URL

    @property
    def sandbox_meta(self) -> bool:
        """No Graph URL and no token: the local sandbox Graph API answers."""
        return self.meta_graph_url is None and not self.meta_access_token_set

    @property
    def embedded_postgres(self) -> bool:
        return self.warehouse_url is None


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _date_env(name: str, default: date) -> date:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a date like 2025-01-01, got {raw!r}") from None


def _switch_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    value = raw.strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{name} must be 'on' or 'off', got {raw!r}")
    return value == "on"


def shipped_tenants_file() -> Path:
    return Path(__file__).with_name("tenants_demo.yaml")


def is_set(name: str) -> bool:
    """Whether the environment variable `name` holds a value (e.g. a tenant's token variable)."""
    return bool(os.environ.get(name))


def secret(name: str) -> str | None:
    """The value of the secret variable `name` (a Meta token named by tenants.yaml), read when
    a run needs it; None when unset. Callers register it for redaction."""
    return os.environ.get(name) or None


def system_tools_path() -> str:
    """Where system tools (useradd) are looked for: PATH, then the sbin directories a clean
    PATH (/usr/bin:/bin) lacks."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])


def meta_graph_url() -> str | None:
    """VETORIAL_META_GRAPH_URL, for the `meta` resource at run time: a run config for the
    resource replaces every value it was defined with, its graph_url included."""
    return os.environ.get("VETORIAL_META_GRAPH_URL") or None


def ui_url() -> str:
    """VETORIAL_UI_URL without a trailing slash: the Dagster UI alerts link to. Read when an
    alert is sent (sensors are defined once, the address may be changed without a reload)."""
    return (os.environ.get("VETORIAL_UI_URL") or DEFAULT_UI_URL).rstrip("/")


def load_settings() -> Settings:
    home = resolve_home(os.environ.get("VETORIAL_HOME"), os.environ.get("DAGSTER_HOME"))
    tenants = os.environ.get("VETORIAL_TENANTS_FILE")
    dagster_home = os.environ.get("DAGSTER_HOME")
    return Settings(
        home=home,
        warehouse_url=os.environ.get("VETORIAL_WAREHOUSE_URL") or None,
        tenants_file=Path(tenants).expanduser().resolve() if tenants else shipped_tenants_file(),
        chatwoot_url=os.environ.get("VETORIAL_CHATWOOT_URL") or None,
        chatwoot_relation=os.environ.get("VETORIAL_CHATWOOT_RELATION") or "vw_conversations_analytics_final",
        meta_graph_url=meta_graph_url(),
        meta_access_token_set=bool(os.environ.get("META_ACCESS_TOKEN")),
        discord_webhook_set=bool(os.environ.get("VETORIAL_DISCORD_WEBHOOK_URL")),
        lgpd_salt_set=bool(os.environ.get("VETORIAL_LGPD_SALT")),
        partitions_start=_date_env("VETORIAL_PARTITIONS_START", date(2025, 1, 1)),
        meta_lookback_days=_int_env("VETORIAL_META_LOOKBACK_DAYS", 28),
        schedules_running=_switch_env("VETORIAL_SCHEDULES", True),
        dagster_storage_url_set=is_set("VETORIAL_DAGSTER_STORAGE_URL"),
        dagster_home=Path(dagster_home).expanduser() if dagster_home else None,
        ui_url=ui_url(),
    )


SALT_FILE = "lgpd_salt"


def lgpd_salt(settings: Settings) -> bytes:
    """The key of staging.conversations' contact hash (VETORIAL_LGPD_SALT).

    With a warehouse URL (a real deployment) it must be set: a key made up here would give
    every contact a new identity the day it changed. On the embedded demo, a random key is
    generated once into $VETORIAL_HOME/lgpd_salt (mode 0600) and reused."""
    value = os.environ.get("VETORIAL_LGPD_SALT")
    if value:
        return value.encode("utf-8")
    if not settings.embedded_postgres:
        raise ConfigError(
            "VETORIAL_LGPD_SALT is not set: staging.conversations needs it to key the contact hash of a real "
            "warehouse (VETORIAL_WAREHOUSE_URL is set). Set it to a long random secret, kept for good: "
            "changing it changes every contact_key."
        )
    path = settings.home / SALT_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    import secrets
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked in place: a second process either
    # links first (we read its key) or finds the complete file, never a half-written one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lgpd_salt.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_bytes().strip()
