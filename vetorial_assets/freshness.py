"""Freshness expectations per source asset, applied in one place (definitions.py).

Judged by the daemon on the asset's last materialization of any partition: a missed
schedule shows as WARN, two in a row as FAIL, in the UI's freshness view.
"""

from datetime import timedelta

from dagster import AssetKey, AssetSpec, FreshnessPolicy

from .chatwoot.assets import RAW_KEY as CHATWOOT_RAW
from .instagram.assets import RAW_KEY as IG_RAW
from .meta.assets import RAW_KEY as META_RAW
from .meta.assets import STAGING_KEY as META_STAGING

POLICIES: dict[AssetKey, FreshnessPolicy] = {
    # Re-pulled every 4 hours.
    META_RAW: FreshnessPolicy.time_window(fail_window=timedelta(hours=9), warn_window=timedelta(hours=5)),
    META_STAGING: FreshnessPolicy.time_window(fail_window=timedelta(hours=9), warn_window=timedelta(hours=5)),
    # Daily for D-1/D-2.
    IG_RAW: FreshnessPolicy.time_window(fail_window=timedelta(hours=50), warn_window=timedelta(hours=26)),
    # Sensor-driven, with a daily 03:00 safety net.
    CHATWOOT_RAW: FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=6)),
}


def with_freshness(spec: AssetSpec) -> AssetSpec:
    policy = POLICIES.get(spec.key)
    return spec.replace_attributes(freshness_policy=policy) if policy else spec
