"""raw/ig_follows end to end: real SDK over HTTP to the sandbox, real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey

from tests.conftest import run_range
from vetorial_assets.instagram.schedules import JOB_NAME
from vetorial_assets.sandbox.graph_data import GraphData, sandbox_today

BIG = "17841400000000001"
OTHER = "17841400000000002"
SMALL = "17841400000000003"  # under 100 followers: Meta returns no insights
KEY = AssetKey(["raw", "ig_follows"])


def rows(db, account):
    with db.connect() as conn:
        return conn.execute(
            "SELECT data_registro, status, follows, unfollows, net FROM raw.ig_follows"
            " WHERE ig_account_id = %s ORDER BY data_registro",
            (account,),
        ).fetchall()


def test_accounts_days_and_no_data(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=6), today - timedelta(days=3)
    for account in (BIG, OTHER, SMALL):
        assert run_range(defs, JOB_NAME, "account", account, first, last, instance).success
    for account in (BIG, OTHER):
        got = rows(vetorial_env, account)
        assert [r[0] for r in got] == [first + timedelta(days=i) for i in range(4)]
        for day, status, follows, unfollows, net in got:
            exp_follows, exp_unfollows, _ = GraphData.ig_movement(account, day)
            assert (status, follows, unfollows, net) == ("ok", exp_follows, exp_unfollows, exp_follows - exp_unfollows)
    # The small account: recorded as 'no_data', never as zeros.
    small = rows(vetorial_env, SMALL)
    assert len(small) == 4 and all(r[1] == "no_data" and r[2] is None and r[4] is None for r in small)
    # One request per account-day, all to the sandbox.
    assert len(graph_api.requests_to("/insights")) == 12
    assert instance.get_latest_materialization_event(KEY).asset_materialization.metadata["days_without_data"].value == 4


def test_late_day_fills_in_on_the_next_run_and_reruns_are_idempotent(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    today = sandbox_today()
    late = today - timedelta(days=3)
    graph_api.withhold_ig_day(BIG, late)
    first, last = today - timedelta(days=4), today - timedelta(days=3)
    assert run_range(defs, JOB_NAME, "account", BIG, first, last, instance).success
    assert [r[1] for r in rows(vetorial_env, BIG)] == ["ok", "no_data"]
    graph_api.release_ig_day(BIG, late)
    assert run_range(defs, JOB_NAME, "account", BIG, first, last, instance).success
    meta = instance.get_latest_materialization_event(KEY).asset_materialization.metadata
    assert (meta["rows_updated"].value, meta["rows_unchanged"].value, meta["rows_inserted"].value) == (1, 1, 0)
    assert [r[1] for r in rows(vetorial_env, BIG)] == ["ok", "ok"]
    # Nothing changed at the source: nothing is rewritten.
    assert run_range(defs, JOB_NAME, "account", BIG, first, last, instance).success
    meta = instance.get_latest_materialization_event(KEY).asset_materialization.metadata
    assert (meta["rows_updated"].value, meta["rows_inserted"].value, meta["rows_unchanged"].value) == (0, 0, 2)


def test_transient_fault_is_retried_and_auth_fault_fails_without_writing(make_defs, instance, vetorial_env, graph_api):
    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=5), today - timedelta(days=3)
    graph_api.faults.add(code=4, times=1, path_contains="insights")
    assert run_range(defs, JOB_NAME, "account", BIG, first, last, instance).success
    assert len(rows(vetorial_env, BIG)) == 3
    graph_api.faults.add(code=190, times=1, path_contains="insights", skip=1)
    graph_api.release_ig_day(BIG, today - timedelta(days=1))
    result = run_range(defs, JOB_NAME, "account", BIG, first, today - timedelta(days=1), instance, raise_on_error=False)
    assert not result.success
    assert len(rows(vetorial_env, BIG)) == 3  # nothing of the failed run landed


def test_a_day_whose_answer_does_not_parse_is_left_out_and_the_rest_lands(
    make_defs, instance, vetorial_env, graph_api, monkeypatch
):
    from dagster import AssetCheckKey

    from vetorial_assets.instagram import assets as ig_assets

    real = ig_assets.parse_follows
    calls = []

    def second_day_negative(response):
        # The sandbox's real answer, with a count Meta never sends on the second day.
        calls.append(1)
        if len(calls) == 2:
            response["data"][0]["total_value"]["breakdowns"][0]["results"][0]["value"] = -5
        return real(response)

    monkeypatch.setattr(ig_assets, "parse_follows", second_day_negative)
    today = sandbox_today()
    first, last = today - timedelta(days=5), today - timedelta(days=3)
    result = run_range(make_defs(), JOB_NAME, "account", BIG, first, last, instance)
    assert result.success
    assert [r[0] for r in rows(vetorial_env, BIG)] == [first, last]
    with vetorial_env.connect() as conn:
        ((table, key, column, reason, value, action, run_id),) = conn.execute(
            "SELECT table_name, row_key, column_name, reason, value, action, run_id FROM ops.rejected_values"
        ).fetchall()
    assert (table, key, column, action, run_id) == (
        "raw.ig_follows",
        {"ig_account_id": BIG, "data_registro": str(first + timedelta(days=1))},
        "payload",
        "row_skipped",
        result.run_id,
    )
    assert "not a non-negative count: -5" in reason and value.startswith('{"data": [')  # cut short
    meta = instance.get_latest_materialization_event(KEY).asset_materialization.metadata
    assert (meta["rows_inserted"].value, meta["rows_skipped"].value) == (2, 1)
    check_key = AssetCheckKey(KEY, "rejected_values")
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])[check_key]
    assert not check.event.dagster_event.event_specific_data.passed
