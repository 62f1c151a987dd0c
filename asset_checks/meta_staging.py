"""Checks of staging/insights_meta_ads over the account ranges a run just loaded.

`reconciles_with_raw` is blocking: a staging table that lost or invented rows, or spend,
relative to raw must not feed anything downstream. Raw and staging of a range pulled together
commit in one transaction (resources/load/spool.py), so a crash cannot part them: a mismatch here
is a broken rule, or a raw-only run that left staging behind. Raw rows the cleaner left out on purpose
in the run (recorded in ops.rejected_values, see rejected_values.py) are not expected in
staging: they are counted apart (`rows_skipped_on_purpose`), not as a mismatch.
"""

from importlib import resources as pkg_resources

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

RECONCILES_WITH_RAW = "reconciles_with_raw"
LEAD_ORIGINS_ADD_UP = "lead_origins_add_up"


def _sql(name: str) -> str:
    return pkg_resources.files("asset_checks").joinpath("sql", name).read_text(encoding="utf-8")


def check_specs(key: AssetKey) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(RECONCILES_WITH_RAW, asset=key, blocking=True,
                       description="Rows and spend of every loaded account range equal raw's (less the raw rows "
                                   "the cleaner left out on purpose, recorded in ops.rejected_values)."),
        AssetCheckSpec(LEAD_ORIGINS_ADD_UP, asset=key,
                       description="No negative metric; form + site + messaging leads = leads_total."),
    ]


def evaluate(conn, ranges, run_id: str | None = None) -> list[AssetCheckResult]:
    """`ranges`: the run's DateRange objects; `conn`: a psycopg connection to the warehouse;
    `run_id`: the run that loaded staging (whose recorded left-out rows are not expected)."""
    mismatches, negative, leads_bad = [], 0, 0
    totals = {"raw_rows": 0, "staging_rows": 0, "rows_skipped_on_purpose": 0}
    for rng in ranges:
        params = {"account_id": rng.account, "first": rng.first, "last": rng.last, "run_id": run_id}
        raw_rows, staging_rows, raw_spend, staging_spend, skipped = conn.execute(
            _sql("meta_staging_vs_raw.sql"), params).fetchone()
        totals["raw_rows"] += raw_rows
        totals["staging_rows"] += staging_rows
        totals["rows_skipped_on_purpose"] += skipped
        if raw_rows != staging_rows or raw_spend != staging_spend:
            mismatches.append(f"{rng.account} {rng.first}..{rng.last}: rows {raw_rows} vs {staging_rows}, "
                              f"spend {raw_spend} vs {staging_spend}")
        neg, bad = conn.execute(_sql("meta_staging_sanity.sql"), params).fetchone()
        negative += neg
        leads_bad += bad
    key = AssetKey(["staging", "insights_meta_ads"])
    return [
        AssetCheckResult(check_name=RECONCILES_WITH_RAW, asset_key=key, passed=not mismatches,
                         metadata={**totals, "mismatches": "; ".join(mismatches) or "none"}),
        AssetCheckResult(check_name=LEAD_ORIGINS_ADD_UP, asset_key=key, passed=negative == 0 and leads_bad == 0,
                         severity=AssetCheckSeverity.WARN,
                         metadata={"negative_rows": negative, "leads_mismatch_rows": leads_bad}),
    ]
