"""Checks of staging/insights_meta_ads over the account ranges of their run's partitions.

Standalone, partitioned like the asset: they run after the asset in the same run (the
schedule's and a backfill's runs select them with the asset), and alone from the UI or CLI
over any partitions, re-reading what the warehouse holds.

`reconciles_with_raw` is blocking: a staging table that lost or invented rows, or spend,
relative to raw must not feed anything downstream. Raw and staging of a range pulled together
commit in one transaction (resources/load/spool.py), so a crash cannot part them: a mismatch here
is a broken rule, or a raw-only run that left staging behind. Raw rows the cleaner left out on
purpose (recorded in ops.rejected_values, see rejected_values.py) and absent from staging are
not expected there: they are counted apart (`rows_skipped_on_purpose`), not as a mismatch.
"""

# No `from __future__ import annotations`: Dagster reads the check functions' `context`
# annotation as a type.
from collections.abc import Sequence
from importlib import resources as pkg_resources

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MultiPartitionsDefinition,
    asset_check,
)

from resources.warehouse import Warehouse
from vetorial_assets.partitions import DateRange, date_ranges

STAGING_KEY = AssetKey(["staging", "insights_meta_ads"])
RAW_KEY = AssetKey(["raw", "meta_ads_insights"])

RECONCILES_WITH_RAW = "reconciles_with_raw"
LEAD_ORIGINS_ADD_UP = "lead_origins_add_up"


def _sql(name: str) -> str:
    return pkg_resources.files("asset_checks").joinpath("sql", name).read_text(encoding="utf-8")


def build_checks(partitions: MultiPartitionsDefinition) -> list[AssetChecksDefinition]:
    """The staging checks, partitioned like the asset (date x account)."""

    @asset_check(
        asset=STAGING_KEY,
        name=RECONCILES_WITH_RAW,
        blocking=True,
        partitions_def=partitions,
        additional_deps=[RAW_KEY],
        description="Rows and spend of every account range equal raw's (less the raw rows the cleaner "
        "left out on purpose, recorded in ops.rejected_values).",
    )
    def reconciles_with_raw(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.transaction() as conn:
            return reconcile(conn, date_ranges(context.partition_keys))

    @asset_check(
        asset=STAGING_KEY,
        name=LEAD_ORIGINS_ADD_UP,
        partitions_def=partitions,
        description="No negative metric; form + site + messaging leads = leads_total.",
    )
    def lead_origins_add_up(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.transaction() as conn:
            return sanity(conn, date_ranges(context.partition_keys))

    return [reconciles_with_raw, lead_origins_add_up]


def _params(rng: DateRange) -> dict:
    return {"account_id": rng.account, "first": rng.first, "last": rng.last}


def reconcile(conn, ranges: Sequence[DateRange]) -> AssetCheckResult:
    """Raw vs staging, rows and spend, per account range; `conn`: a psycopg connection."""
    mismatches = []
    totals = {"raw_rows": 0, "staging_rows": 0, "rows_skipped_on_purpose": 0}
    for rng in ranges:
        raw_rows, staging_rows, raw_spend, staging_spend, skipped = conn.execute(
            _sql("meta_staging_vs_raw.sql"), _params(rng)
        ).fetchone()
        totals["raw_rows"] += raw_rows
        totals["staging_rows"] += staging_rows
        totals["rows_skipped_on_purpose"] += skipped
        if raw_rows != staging_rows or raw_spend != staging_spend:
            mismatches.append(
                f"{rng.account} {rng.first}..{rng.last}: rows {raw_rows} vs {staging_rows}, "
                f"spend {raw_spend} vs {staging_spend}"
            )
    return AssetCheckResult(
        check_name=RECONCILES_WITH_RAW,
        asset_key=STAGING_KEY,
        passed=not mismatches,
        metadata={**totals, "mismatches": "; ".join(mismatches) or "none"},
    )


def sanity(conn, ranges: Sequence[DateRange]) -> AssetCheckResult:
    """Negative metrics and lead origins that do not add up, per account range."""
    negative, leads_bad = 0, 0
    for rng in ranges:
        neg, bad = conn.execute(_sql("meta_staging_sanity.sql"), _params(rng)).fetchone()
        negative += neg
        leads_bad += bad
    return AssetCheckResult(
        check_name=LEAD_ORIGINS_ADD_UP,
        asset_key=STAGING_KEY,
        passed=negative == 0 and leads_bad == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"negative_rows": negative, "leads_mismatch_rows": leads_bad},
    )


def evaluate(conn, ranges: Sequence[DateRange]) -> list[AssetCheckResult]:
    """Both checks over `ranges` (what the standalone checks compute)."""
    return [reconcile(conn, ranges), sanity(conn, ranges)]
