"""Staging-only rebuild of `staging/insights_meta_ads` from raw: no API call.

When a cleaning rule changes (issue 13: clicks, garbage numbers), history follows by
re-cleaning the stored raw payloads. It runs the staging asset alone (which rebuilds from
raw) over each account's stored raw days, one run per account through the Dagster
instance like a backfill; the change ledger then records every day whose staging rows
changed, and the model and marts recompute exactly those days.
CLI: `vetorial rebuild-meta-staging [--account act_...] [--since YYYY-MM-DD] [--until YYYY-MM-DD]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dagster import AssetSelection, DagsterInstance, Definitions, ExecuteInProcessResult, define_asset_job

from ..partitions import range_tags
from ..run_tags import TRIGGERED_BY_TAG
from .assets import STAGING_KEY

JOB_NAME = "meta_staging_rebuild"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def build_rebuild_job(partitions):
    return define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(STAGING_KEY),
        partitions_def=partitions,
        description="Re-clean staging.insights_meta_ads from raw for a date range "
        "(no API call): history follows a changed business rule.",
    )


@dataclass(frozen=True)
class RebuildRun:
    account: str
    first: date
    last: date

    @property
    def tags(self) -> dict[str, str]:
        return {**range_tags(self.account, self.first.isoformat(), self.last.isoformat()), TRIGGERED_BY_TAG: "manual"}


def plan_rebuild(
    defs: Definitions, accounts: list[str] | None = None, since: date | None = None, until: date | None = None
) -> list[RebuildRun]:
    """One run per account over the days raw holds for it (within since..until)."""
    # Resolved: the definitions hold the URL as an EnvVar.
    warehouse = defs.resources["warehouse"].process_config_and_initialize()
    warehouse.ensure_schema()
    with warehouse.transaction() as conn:
        stored = conn.execute(
            "SELECT account_id, min(data), max(data) FROM raw.meta_ads_insights "
            "WHERE (%(accounts)s::text[] IS NULL OR account_id = ANY(%(accounts)s)) "
            "GROUP BY account_id ORDER BY account_id",
            {"accounts": accounts},
        ).fetchall()
    runs = []
    for account, first, last in stored:
        first, last = max(first, since) if since else first, min(last, until) if until else last
        if first <= last:
            runs.append(RebuildRun(account, first, last))
    return runs


def execute_rebuild(defs: Definitions, instance: DagsterInstance, run: RebuildRun) -> ExecuteInProcessResult:
    job = defs.resolve_job_def(JOB_NAME)
    return job.execute_in_process(instance=instance, tags=run.tags, run_config=QUIET, raise_on_error=False)
