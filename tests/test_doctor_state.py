"""`vetorial doctor`'s data lines (vetorial_assets/doctor_state.py): each asset's freshness, judged on
its newest partitions, and the checks whose latest evaluation failed (ERROR fails the report, WARN
warns). The real code location, a real Meta run on the sandbox, a planted defect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetMaterialization, AssetSelection, Definitions, define_asset_job
from dagster._core.test_utils import freeze_time
from dagster._time import get_current_datetime

from resources.warehouse import Warehouse
from tests.conftest import run_range
from vetorial_assets.alerts.freshness import newest_partitions
from vetorial_assets.doctor import DoctorReport
from vetorial_assets.doctor_state import FailedCheck, failed_checks, freshness_checks
from vetorial_assets.meta.assets import RAW_KEY, STAGING_KEY
from vetorial_assets.meta.schedules import JOB_NAME
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000002"


def _report(checks, capsys) -> dict[str, str]:
    report = DoctorReport()
    for name, check in checks:
        report.run(name, check)
    out = {}
    for line in capsys.readouterr().out.splitlines():
        status, rest = line.split(None, 1)
        out[rest.split(":", 1)[0]] = (status, rest.split(":", 1)[1].strip())
    return out


def test_freshness_lines(make_defs, instance, capsys):
    defs = make_defs()
    report = _report(freshness_checks(defs, instance), capsys)
    assert report["freshness raw/meta_ads_insights"] == ("ok", "not materialized yet")
    assert set(report) >= {
        "freshness raw/meta_ads_insights",
        "freshness staging/insights_meta_ads",
        "freshness raw/ig_follows",
        "freshness raw/conversas_analytics",
    }

    now = get_current_datetime()
    partitions = defs.resolve_asset_graph().get(RAW_KEY).partitions_def
    newest = [p for p, _ in newest_partitions(partitions, 0, now)]
    with freeze_time(now - timedelta(hours=1)):
        for partition in newest:
            instance.report_runless_asset_event(AssetMaterialization(RAW_KEY, partition=partition))
    with freeze_time(now - timedelta(hours=6)):  # past the warn window (5 h), within the fail window (9 h)
        for partition in newest:
            instance.report_runless_asset_event(AssetMaterialization(STAGING_KEY, partition=partition))
    report = _report(freshness_checks(defs, instance), capsys)
    status, text = report["freshness raw/meta_ads_insights"]
    assert status == "ok" and text.startswith(f"fresh ({len(newest)} newest partition(s), oldest 1.0 h)")
    status, text = report["freshness staging/insights_meta_ads"]
    assert status == "WARN" and text.startswith(f"late ({len(newest)} of {len(newest)} newest partitions: ")
    with freeze_time(now + timedelta(hours=4)):  # staging now 10 h old: stale
        report = _report(freshness_checks(defs, instance), capsys)
    assert report["freshness staging/insights_meta_ads"][1].startswith("stale (")
    # A backfill of an old day does not make the newest ones fresh.
    with freeze_time(now + timedelta(hours=4)):
        instance.report_runless_asset_event(AssetMaterialization(STAGING_KEY, partition=f"{ACCOUNT}|2025-03-01"))
        report = _report(freshness_checks(defs, instance), capsys)
    assert report["freshness staging/insights_meta_ads"][1].startswith("stale (")


@pytest.mark.parametrize("defect, severity", [("DROP COLUMN content_hash", "ERROR")])
def test_failed_checks_line(make_defs, instance, vetorial_env, capsys, defect, severity):
    defs = make_defs()
    day = sandbox_today() - timedelta(days=2)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, day, day, instance).success
    status, text = _report([("asset checks", failed_checks(defs, instance))], capsys)["asset checks"]
    assert status == "ok" and text.startswith("latest evaluations pass (")

    with Warehouse(url=vetorial_env.url).transaction() as conn:
        conn.execute(f"ALTER TABLE raw.meta_ads_insights {defect}")
    checks_only = Definitions.merge(
        defs, Definitions(jobs=[define_asset_job("raw_checks", selection=AssetSelection.checks_for_assets(RAW_KEY))])
    )
    checks_only.resolve_job_def("raw_checks").execute_in_process(instance=instance, raise_on_error=False)
    check = failed_checks(defs, instance)
    with pytest.raises(
        FailedCheck,
        match=r"1 failed at ERROR: raw/meta_ads_insights:columns \(raw.meta_ads_insights: "
        r"missing \['content_hash'\]",
    ):
        check()
    status, text = _report([("asset checks", check)], capsys)["asset checks"]
    assert status == "FAIL"
