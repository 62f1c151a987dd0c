"""Checks of staging/insights_meta_ads over the account ranges a run just loaded.

`reconciles_with_raw` is blocking: a staging table that lost or invented rows, or spend,
relative to raw must not feed anything downstream.
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
                       description="Rows and spend of every loaded account range equal raw's."),
        AssetCheckSpec(LEAD_ORIGINS_ADD_UP, asset=key,
                       description="No negative metric; form + site + messaging leads = leads_total."),
    ]


def evaluate(conn, ranges) -> list[AssetCheckResult]:
    """`ranges`: the run's DateRange objects; `conn`: a psycopg connection to the warehouse."""
    mismatches, negative, leads_bad = [], 0, 0
    totals = {"raw_rows": 0, "staging_rows": 0}
    for rng in ranges:
        params = {"account_id": rng.account, "first": rng.first, "last": rng.last}
        raw_rows, staging_rows, raw_spend, staging_spend = conn.execute(_sql("meta_staging_vs_raw.sql"), params).fetchone()
        totals["raw_rows"] += raw_rows
        totals["staging_rows"] += staging_rows
        if raw_rows != staging_rows or raw_spend != staging_spend:
            mismatches.append(f"{rng.account} {rng.first}..{rng.last}: rows {raw_rows} vs {staging_rows}, "
                              f"spend {raw_spend} vs {staging_spend}")
        neg, bad = conn.execute(_sql("meta_staging_sanity.sql"), params).fetchone()
        negative += neg
        leads_bad += bad
    return [
        AssetCheckResult(check_name=RECONCILES_WITH_RAW, passed=not mismatches,
                         metadata={**totals, "mismatches": "; ".join(mismatches) or "none"}),
        AssetCheckResult(check_name=LEAD_ORIGINS_ADD_UP, passed=negative == 0 and leads_bad == 0,
                         severity=AssetCheckSeverity.WARN,
                         metadata={"negative_rows": negative, "leads_mismatch_rows": leads_bad}),
    ]
