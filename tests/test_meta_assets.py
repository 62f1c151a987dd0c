"""Meta assets end to end: real SDK over HTTP to the sandbox, real PostgreSQL, Dagster instance."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from dagster import AssetKey

from tests.conftest import FAKE_TOKEN, run_range
from vetorial_assets.meta.schedules import JOB_NAME
from vetorial_assets.partitions import range_tags
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000001"
RAW = AssetKey(["raw", "meta_ads_insights"])
STAGING = AssetKey(["staging", "insights_meta_ads"])


def days(n_back_first: int, n_back_last: int = 1):
    today = sandbox_today()
    return today - timedelta(days=n_back_first), today - timedelta(days=n_back_last)


def counts(db, account=ACCOUNT):
    with db.connect() as conn:
        raw = conn.execute("SELECT count(*) FROM raw.meta_ads_insights WHERE account_id = %s", (account,)).fetchone()[0]
        stg = conn.execute(
            "SELECT count(*) FROM staging.insights_meta_ads WHERE account_id = %s", (account,)
        ).fetchone()[0]
    return raw, stg


def materialization(instance, key):
    event = instance.get_latest_materialization_event(key)
    assert event is not None, f"no materialization of {key}"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_range_lands_in_raw_and_staging_with_metadata(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    first, last = days(5)
    result = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance)
    assert result.success
    raw, stg = counts(vetorial_env)
    assert raw > 0 and raw == stg
    # One API range for the whole run, not one request per day.
    insight_calls = [r for r in graph_api.requests_to("/insights") if "act_100000000000001" in r.path]
    assert insight_calls and all("after" not in r.params or r.params["after"] for r in insight_calls)
    meta_raw = materialization(instance, RAW)
    assert meta_raw["dagster/row_count"] == raw
    assert meta_raw["dagster/table_name"] == "raw.meta_ads_insights"
    assert meta_raw["rows_inserted"] == raw
    meta_stg = materialization(instance, STAGING)
    assert meta_stg["rows_inserted"] == stg
    assert [c.name for c in meta_stg["dagster/column_schema"].columns][:2] == ["hash_id", "data"]
    # Every day of the range is a materialized partition.
    assert len(instance.get_materialized_partitions(STAGING)) == (last - first).days + 1


def test_rerun_changes_nothing(make_defs, instance, vetorial_env):
    defs = make_defs()
    first, last = days(3)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    with vetorial_env.connect() as conn:
        before = conn.execute(
            "SELECT hash_id, valor_gasto, updated_at FROM staging.insights_meta_ads ORDER BY 1"
        ).fetchall()
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    for key in (RAW, STAGING):
        meta = materialization(instance, key)
        assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_deleted"]) == (0, 0, 0)
        assert meta["rows_unchanged"] == meta["rows_in_batch"] > 0
    with vetorial_env.connect() as conn:
        after = conn.execute(
            "SELECT hash_id, valor_gasto, updated_at FROM staging.insights_meta_ads ORDER BY 1"
        ).fetchall()
    assert after == before


def test_restated_day_updates_and_vanished_day_is_cleaned(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    first, last = days(4)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    restated, vanished = first + timedelta(days=1), first + timedelta(days=2)
    with vetorial_env.connect() as conn:
        spend_before = conn.execute(
            "SELECT sum(valor_gasto) FROM staging.insights_meta_ads WHERE data = %s", (restated,)
        ).fetchone()[0]
        vanished_rows = conn.execute(
            "SELECT count(*) FROM raw.meta_ads_insights WHERE data = %s", (vanished,)
        ).fetchone()[0]
    assert vanished_rows > 0
    graph_api.restate(ACCOUNT, restated)
    graph_api.vanish(ACCOUNT, vanished)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    meta = materialization(instance, STAGING)
    assert meta["rows_updated"] > 0 and meta["rows_deleted"] == vanished_rows
    with vetorial_env.connect() as conn:
        spend_after = conn.execute(
            "SELECT sum(valor_gasto) FROM staging.insights_meta_ads WHERE data = %s", (restated,)
        ).fetchone()[0]
        left = [
            conn.execute(f"SELECT count(*) FROM {t} WHERE data = %s", (vanished,)).fetchone()[0]
            for t in ("raw.meta_ads_insights", "staging.insights_meta_ads")
        ]
    assert spend_after != spend_before
    assert left == [0, 0]


def test_non_transient_error_fails_fast_and_writes_nothing(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    first, last = days(30)  # 4 ads x 6 placements x 30 days: two pages of 500
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    before = counts(vetorial_env)
    graph_api.restate(ACCOUNT, first)
    # Second page fails with a permissions error: the whole range must stay as it was.
    graph_api.faults.add(code=200, times=1, path_contains="insights", skip=1)
    result = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance, raise_on_error=False)
    assert not result.success
    assert counts(vetorial_env) == before


def test_token_never_reaches_logs_event_log_or_raw(make_defs, instance, vetorial_env, graph_api, caplog):
    defs = make_defs()
    first, last = days(2)
    graph_api.faults.add(code=17, times=1, path_contains="insights")  # a retried error, logged
    with caplog.at_level(logging.DEBUG):
        assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
        graph_api.faults.add(code=190, times=1, path_contains="insights")
        failed = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance, raise_on_error=False)
    assert not failed.success
    assert graph_api.requests and all(r.token == FAKE_TOKEN for r in graph_api.requests)
    assert FAKE_TOKEN not in caplog.text
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            assert FAKE_TOKEN not in str(record)
    with vetorial_env.connect() as conn:
        hits = conn.execute(
            "SELECT count(*) FROM raw.meta_ads_insights WHERE payload::text LIKE %s", (f"%{FAKE_TOKEN}%",)
        ).fetchone()[0]
    assert hits == 0


@pytest.mark.parametrize("bad", ["act_999", "act_100000000000001|x"])
def test_unknown_account_is_not_a_partition(make_defs, bad):
    defs = make_defs()
    job = defs.resolve_job_def(JOB_NAME)
    assert bad not in job.partitions_def.get_partitions_def_for_dimension("account").get_partition_keys()


def test_staging_checks_pass_and_land_in_the_instance(make_defs, instance, vetorial_env):
    from dagster import AssetCheckKey

    defs = make_defs()
    first, last = days(3)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    for name in ("reconciles_with_raw", "lead_origins_add_up"):
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([AssetCheckKey(STAGING, name)])[
            AssetCheckKey(STAGING, name)
        ]
        evaluation = record.event.dagster_event.event_specific_data
        assert evaluation.passed, name


def test_reconciliation_check_fails_when_staging_drifts_from_raw(vetorial_env, make_defs, instance):
    from dagster import AssetCheckKey, AssetSelection, Definitions, asset, define_asset_job

    from asset_checks.meta_staging import evaluate
    from vetorial_assets.partitions import DateRange

    defs = make_defs()
    first, last = days(2)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    with vetorial_env.connect() as conn:
        conn.execute(
            "DELETE FROM staging.insights_meta_ads WHERE ctid IN (SELECT ctid FROM staging.insights_meta_ads LIMIT 1)"
        )
        results = {r.check_name: r for r in evaluate(conn, [DateRange(ACCOUNT, first, last)])}
    assert not results["reconciles_with_raw"].passed
    assert results["lead_origins_add_up"].passed
    # The same checks run alone through Dagster, from the UI's "Execute checks": the blocking
    # one fails the run, nothing re-materialized.
    check = AssetCheckKey(STAGING, "reconciles_with_raw")
    checks_only = define_asset_job(
        "staging_checks_alone",
        selection=AssetSelection.checks(check),
        partitions_def=defs.resolve_job_def(JOB_NAME).partitions_def,
    )
    alone = (
        Definitions.merge(defs, Definitions(jobs=[checks_only]))
        .resolve_job_def("staging_checks_alone")
        .execute_in_process(instance=instance, tags=range_tags(ACCOUNT, str(first), str(last)), raise_on_error=False)
    )
    assert not alone.success
    evaluations = {e.check_name: e for e in alone.get_asset_check_evaluations()}
    assert set(evaluations) == {"reconciles_with_raw"} and not evaluations["reconciles_with_raw"].passed
    assert not alone.get_asset_materialization_events()

    # Still blocking: an asset downstream of staging, in a run with the check, does not run.
    ran = []
    partitions = defs.resolve_job_def(JOB_NAME).partitions_def

    @asset(key=["mart", "downstream_of_staging"], deps=[STAGING], partitions_def=partitions)
    def downstream() -> None:
        ran.append(True)

    blocked = define_asset_job(
        "blocked", selection=AssetSelection.checks(check) | AssetSelection.assets(downstream), partitions_def=partitions
    )
    result = (
        Definitions.merge(defs, Definitions(assets=[downstream], jobs=[blocked]))
        .resolve_job_def("blocked")
        .execute_in_process(instance=instance, tags=range_tags(ACCOUNT, str(first), str(last)), raise_on_error=False)
    )
    assert not result.success and ran == []
    assert not [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["mart", "downstream_of_staging"])
    ]


def test_staging_alone_is_rebuilt_from_raw_without_an_api_call(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    first, last = days(3)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    with vetorial_env.connect() as conn:
        before = conn.execute("SELECT * FROM staging.insights_meta_ads ORDER BY hash_id").fetchall()
        conn.execute("DELETE FROM staging.insights_meta_ads WHERE data = %s", (first,))
    calls = len(graph_api.requests)
    tags = range_tags(ACCOUNT, str(first), str(last))
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance, tags=tags, asset_selection=[STAGING])
    assert result.success
    assert len(graph_api.requests) == calls  # no API call
    with vetorial_env.connect() as conn:
        after = conn.execute("SELECT * FROM staging.insights_meta_ads ORDER BY hash_id").fetchall()
    assert [r[:-1] for r in after] == [r[:-1] for r in before]  # all but updated_at
    meta = materialization(instance, STAGING)
    assert meta["rows_inserted"] == len(after) // 3 and meta["rows_unchanged"] == len(after) - len(after) // 3


def _check(instance, key, name):
    from dagster import AssetCheckKey

    check_key = AssetCheckKey(key, name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])[check_key]
    return record.event.dagster_event.event_specific_data


@pytest.mark.parametrize("how", ["alongside", "rebuilt"])
def test_a_row_the_cleaner_rejects_is_left_out_and_the_rest_of_the_range_lands(
    make_defs, instance, vetorial_env, graph_api, how
):
    # Issue 11 defect 5: a malformed `actions` row made staging fail on every re-run. Now the
    # row is left out of staging (raw keeps what the API sent), recorded, and reported.
    defs = make_defs()
    first, last = days(3)
    graph_api.malform_actions(ACCOUNT, first)
    result = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance)
    if how == "rebuilt":  # staging alone, cleaned again from raw: the same outcome
        tags = range_tags(ACCOUNT, str(first), str(last))
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(
            instance=instance, tags=tags, asset_selection=[STAGING]
        )
    assert result.success
    raw, stg = counts(vetorial_env)
    assert raw > 1 and stg == raw - 1
    with vetorial_env.connect() as conn:
        rejected = conn.execute(
            "SELECT source, partition, run_id, table_name, row_key, column_name, reason, action"
            " FROM ops.rejected_values WHERE run_id = %s",
            (result.run_id,),
        ).fetchall()
        payload = conn.execute(
            "SELECT payload->>'ad_id', data FROM raw.meta_ads_insights WHERE jsonb_typeof(payload->'actions')"
            " = 'object'"
        ).fetchall()
    ((ad_id, day),) = payload
    ((source, partition, run_id, table, key, column, reason, action),) = rejected
    assert (source, partition, run_id, table, column, action) == (
        "staging/insights_meta_ads",
        ACCOUNT,
        result.run_id,
        "staging.insights_meta_ads",
        "actions",
        "row_skipped",
    )
    assert (key["ad_id"], key["data"], key["account_id"]) == (ad_id, str(day), ACCOUNT)
    assert "'actions' must be a list" in reason
    assert materialization(instance, STAGING)["rows_skipped"] == 1
    reconciles = _check(instance, STAGING, "reconciles_with_raw")
    assert reconciles.passed and reconciles.metadata["rows_skipped_on_purpose"].value == 1
    warned = _check(instance, STAGING, "rejected_values")
    assert not warned.passed and warned.metadata["rows_skipped"].value == 1
    assert warned.metadata["sample"].value[0]["key"]["ad_id"] == ad_id
    if how == "alongside":
        assert _check(instance, RAW, "rejected_values").passed


def test_raw_leaves_out_a_row_outside_the_requested_range_and_lands_the_rest(
    make_defs, instance, vetorial_env, graph_api, monkeypatch
):
    from vetorial_assets.meta import assets as meta_assets

    real = meta_assets.raw_rows
    first, last = days(3)

    def one_row_from_another_day(page, account, lo, hi, fetched_at, rejected=None):
        if page:
            page = [dict(page[0], date_start="1999-01-01", date_stop="1999-01-01"), *page[1:]]
        return real(page, account, lo, hi, fetched_at, rejected=rejected)

    monkeypatch.setattr(meta_assets, "raw_rows", one_row_from_another_day)
    assert run_range(make_defs(), JOB_NAME, "account", ACCOUNT, first, last, instance).success
    raw, stg = counts(vetorial_env)
    with vetorial_env.connect() as conn:
        rejected = conn.execute("SELECT table_name, column_name, reason, action FROM ops.rejected_values").fetchall()
    assert raw > 0 and raw == stg  # staging cleans only what raw kept
    assert rejected and all(
        r[:2] == ("raw.meta_ads_insights", "date_start") and "outside the requested" in r[2] and r[3] == "row_skipped"
        for r in rejected
    )
    assert materialization(instance, RAW)["rows_skipped"] == len(rejected)
