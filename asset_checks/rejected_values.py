"""WARN check of a source asset: values its run could not store (ops.rejected_values).

The load path stores such a value as NULL, or leaves its row out when the column is part
of the key or NOT NULL, and records each one; the rest of the batch lands. This check turns
a run's records into a WARN result with the counts and a sample (table, partition, key,
column, reason, action) in its metadata, so nobody has to query ops to see them. The
sample carries no value: personal data stays in the warehouse.

Declared on each source asset (`check_spec`) and evaluated by the asset after its load
(`evaluate`), from SQL in asset_checks/sql/.
"""

from __future__ import annotations

from importlib import resources as pkg_resources

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

REJECTED_VALUES = "rejected_values"
SAMPLE_SIZE = 10


def _sql(name: str) -> str:
    return pkg_resources.files("asset_checks").joinpath("sql", name).read_text(encoding="utf-8")


def check_spec(key: AssetKey) -> AssetCheckSpec:
    return AssetCheckSpec(
        REJECTED_VALUES,
        asset=key,
        description="Every value of the run was stored: none NULLed or left out with its row because the "
        "warehouse could not hold it (those are in ops.rejected_values). WARN with counts and a sample.",
    )


def evaluate(conn, key: AssetKey, run_id: str) -> AssetCheckResult:
    """The run's rejections for `key` (its user string is the recorded source)."""
    params = {"run_id": run_id, "source": key.to_user_string(), "sample": SAMPLE_SIZE}
    total, nulled, skipped = conn.execute(_sql("rejected_values_counts.sql"), params).fetchone()
    sample = [
        {"table": table, "partition": partition, "key": row_key, "column": column, "reason": reason, "action": action}
        for table, partition, row_key, column, reason, action in conn.execute(
            _sql("rejected_values_sample.sql"), params
        ).fetchall()
    ]
    return AssetCheckResult(
        check_name=REJECTED_VALUES,
        asset_key=key,
        passed=total == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "rejected_values": total,
            "values_nulled": nulled,
            "rows_skipped": skipped,
            "sample": MetadataValue.json(sample),
        },
        description=None
        if total == 0
        else f"{total} value(s) could not be stored: {nulled} stored as NULL, {skipped} row(s) left out; "
        "see ops.rejected_values",
    )
