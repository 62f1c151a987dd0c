"""What a source folder contributes to the code location, declared in the folder itself.

Each source (meta/, instagram/, chatwoot/) exports one `Source`: its Dagster definitions
(`defs()`: assets, checks, jobs, schedules, sensors, freshness policies), what `vetorial demo`
runs for it, and what `vetorial doctor` checks for it. definitions.py, demo.py and doctor.py
iterate vetorial_assets/sources.py's list and name no source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from dagster import AssetKey, AssetSpec, DefaultScheduleStatus, Definitions, FreshnessPolicy
from sqlalchemy import make_url

from resources.support.redaction import register_secret

from .repull import RepullRule
from .settings import Settings
from .tenants import Tenants

Check = Callable[[], str]


class DoctorWarning(Exception):
    """Raised by a doctor check for something that works but should not be so (reported as WARN)."""


@dataclass(frozen=True)
class DemoJob:
    """One job `vetorial demo` runs for a source: per account over a date range (`range`),
    once per tenant (`tenant`), or once (`once`: an unpartitioned job, e.g. a warehouse layer)."""

    job_name: str
    label: str
    runs_per: Literal["range", "tenant", "once"]
    # Range jobs of an API pull: its ops.pulled_days source, and when a day already pulled
    # needs pulling again (vetorial_assets/repull.py). Without them every day is pulled.
    pulled_by: str | None = None
    repull: Callable[[Settings], RepullRule] | None = None


@dataclass(frozen=True)
class Source:
    name: str
    # (settings, tenants, default schedule status) -> the source's Definitions, no resources.
    defs: Callable[[Settings, Tenants, DefaultScheduleStatus], Definitions]
    # In dependency order (the demo runs them in the order of the sources, then of these).
    demo: Sequence[DemoJob] = ()
    # (definitions with resources, tenants) -> [(check name, check)] for `vetorial doctor`.
    doctor_checks: Callable[[Definitions, Tenants], list[tuple[str, Check]]] | None = None


# Metadata the freshness sensor (alerts/freshness.py) reads: how many days before the newest
# date partition the source's newest day is (a source loading yesterday at the newest: 1).
FRESHNESS_DAY_OFFSET = "vetorial/freshness_day_offset"


def with_freshness(
    defs: Definitions, policies: dict[AssetKey, FreshnessPolicy], day_offsets: dict[AssetKey, int] | None = None
) -> Definitions:
    """`defs` with each asset's freshness policy set from `policies` (keyed by asset key), and
    the newest day it is judged on from `day_offsets` (default: the newest date partition)."""

    def apply(spec: AssetSpec) -> AssetSpec:
        policy = policies.get(spec.key)
        if not policy:
            return spec
        spec = spec.replace_attributes(freshness_policy=policy)
        offset = (day_offsets or {}).get(spec.key)
        return spec.merge_attributes(metadata={FRESHNESS_DAY_OFFSET: offset}) if offset else spec

    return defs.map_resolved_asset_specs(func=apply)


def resolved(defs: Definitions, name: str):
    """Resource `name` with its configuration processed as Dagster does for a run: EnvVar
    fields hold the variables' values. Its URL passwords are registered for redaction."""
    resource = defs.resources[name].process_config_and_initialize()
    for attribute in ("url", "webhook_url"):
        value = getattr(resource, attribute, None)
        if value:
            register_url_secrets(value)
    return resource


def register_url_secrets(url: str) -> None:
    register_secret(url)
    try:
        register_secret(make_url(url.replace("postgres://", "postgresql://", 1)).password)
    except Exception:  # not a database URL (a webhook): the whole URL is registered above
        pass
