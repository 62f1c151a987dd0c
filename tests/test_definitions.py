"""The whole code location: assets, partitions, policies, schedules and sensors as the UI sees them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetKey, BackfillPolicy, build_schedule_context

from vetorial_assets.definitions import build_definitions
from vetorial_assets.settings import load_settings

SOURCE_TABLES = {
    AssetKey(["raw", "meta_ads_insights"]): "raw.meta_ads_insights",
    AssetKey(["staging", "insights_meta_ads"]): "staging.insights_meta_ads",
    AssetKey(["raw", "ig_follows"]): "raw.ig_follows",
    AssetKey(["raw", "conversas_analytics"]): "raw.conversas_analytics",
}


@pytest.fixture(scope="module")
def defs():
    return build_definitions(load_settings())


def test_every_table_is_an_asset_with_its_table_metadata_and_freshness(defs):
    graph = defs.resolve_asset_graph()
    assert set(SOURCE_TABLES) <= set(graph.get_all_asset_keys())
    for key, table in SOURCE_TABLES.items():
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        assert spec.metadata["dagster/table_name"] == table
        assert spec.metadata["dagster/column_schema"].columns
        assert spec.freshness_policy is not None, key
        assert spec.owners and spec.kinds and spec.group_name


def test_date_by_account_assets_backfill_in_one_run_per_account(defs):
    for key in (
        AssetKey(["raw", "meta_ads_insights"]),
        AssetKey(["staging", "insights_meta_ads"]),
        AssetKey(["raw", "ig_follows"]),
    ):
        assets_def = defs.resolve_assets_def(key)
        assert assets_def.backfill_policy == BackfillPolicy.single_run()
        dims = {d.name for d in assets_def.partitions_def.partitions_defs}
        assert "date" in dims and len(dims) == 2
        date_dim = assets_def.partitions_def.get_partitions_def_for_dimension("date")
        assert date_dim.timezone == "America/Sao_Paulo"


def test_meta_schedule_repulls_the_lookback_window_once_per_account(defs):
    schedule = defs.resolve_schedule_def("meta_ads_every_4_hours")
    assert schedule.cron_schedule == "0 */4 * * *"
    when = datetime(2026, 3, 10, 8, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    with build_schedule_context(scheduled_execution_time=when) as ctx:
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert len(requests) == 3  # one per demo ad account
    for request in requests:
        start = request.tags["dagster/asset_partition_range_start"]
        end = request.tags["dagster/asset_partition_range_end"]
        assert start.startswith("act_") and start.endswith("2026-02-11")  # 28 days back, inclusive
        assert end.endswith("2026-03-10") and start.split("|")[0] == end.split("|")[0]


def test_instagram_schedule_asks_for_d1_and_d2(defs):
    schedule = defs.resolve_schedule_def("instagram_follows_daily")
    when = datetime(2026, 3, 10, 6, 30, tzinfo=ZoneInfo("America/Sao_Paulo"))
    with build_schedule_context(scheduled_execution_time=when) as ctx:
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert len(requests) == 3
    # Multi-partition keys join dimension values in dimension-name order: account|date.
    starts = sorted(r.tags["dagster/asset_partition_range_start"] for r in requests)
    ends = sorted(r.tags["dagster/asset_partition_range_end"] for r in requests)
    accounts = ["17841400000000001", "17841400000000002", "17841400000000003"]
    assert starts == [f"{a}|2026-03-08" for a in accounts]
    assert ends == [f"{a}|2026-03-09" for a in accounts]


@pytest.mark.parametrize(
    "key, account",
    [
        (AssetKey(["raw", "meta_ads_insights"]), "act_100000000000001"),
        (AssetKey(["staging", "insights_meta_ads"]), "act_100000000000001"),
        (AssetKey(["raw", "ig_follows"]), "17841400000000001"),
    ],
)
def test_every_date_by_account_key_reads_account_then_date(defs, key, account):
    partitions = defs.resolve_assets_def(key).partitions_def
    assert [d.name for d in partitions.partitions_defs] == ["account", "date"]
    # The documented example key (README, "Partitions") is a key of the asset...
    example = f"{account}|2026-03-10"
    assert partitions.has_partition_key(example)
    assert partitions.get_partition_key_from_str(example).keys_by_dimension == {
        "account": account,
        "date": "2026-03-10",
    }
    # ...and the other order is not.
    assert not partitions.has_partition_key(f"2026-03-10|{account}")


def test_chatwoot_schedule_reconciles_every_tenant_at_three(defs):
    schedule = defs.resolve_schedule_def("chatwoot_daily_0300")
    assert schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "America/Sao_Paulo"
    when = datetime(2026, 3, 10, 3, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    with build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def()) as ctx:
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in requests] == ["allpfit", "lacrei"]
    assert all(r.run_config["ops"]["raw__conversas_analytics"]["config"]["reconcile"] for r in requests)


def test_sensors_are_registered(defs):
    names = {s.name for s in defs.sensors}
    assert {"chatwoot_source_sensor", "discord_on_run_failure", "discord_on_recovery"} <= names


def test_bad_tenants_file_fails_at_load_time_naming_the_problem(tmp_path, monkeypatch):
    from vetorial_assets.settings import ConfigError

    bad = tmp_path / "tenants.yaml"
    bad.write_text("tenants:\n  - id: a\n    meta_ad_accounts: [act_1]\n  - id: b\n    meta_ad_accounts: [act_1]\n")
    monkeypatch.setenv("VETORIAL_TENANTS_FILE", str(bad))
    with pytest.raises(
        ConfigError, match=r"tenant 'b', field 'meta_ad_accounts': 'act_1' already belongs to tenant 'a'"
    ):
        build_definitions(load_settings())
