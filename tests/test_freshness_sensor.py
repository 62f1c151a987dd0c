"""The freshness sensor, evaluated by Dagster (build_sensor_context with an instance) on the real code
location, with the clock moved by Dagster's freeze_time: it requests a refresh only for the stale
asset and partition, once per window; a backfill of old days does not make the newest look fresh;
stale and fresh-again are posted once to a local Discord receiver, linking to the asset in the UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import AssetMaterialization, build_sensor_context
from dagster._core.test_utils import freeze_time

from resources.discord import GREEN, RED, DiscordNotifier
from tests.test_faults_discord import Receiver
from vetorial_assets.alerts.freshness import (
    DAY_OFFSET_METADATA,
    MAX_REQUESTS_PER_TICK,
    SENSOR_NAME,
    newest_partitions,
)
from vetorial_assets.alerts.notify import MAX_ALERTS_PER_TICK
from vetorial_assets.meta.assets import RAW_KEY as META_RAW
from vetorial_assets.meta.assets import STAGING_KEY as META_STAGING

# 11:00 in São Paulo: "today" is 2026-03-10 for every date partition (and still is 9 hours later).
T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    r = Receiver([(204, None, None, 0)])
    yield r
    r.close()


@pytest.fixture
def location(make_defs, monkeypatch):
    monkeypatch.setenv("VETORIAL_UI_URL", "http://ui.example:3000/")
    defs = make_defs()
    graph = defs.resolve_asset_graph()
    newest = {}
    for node in graph.asset_nodes:
        if node.freshness_policy is not None:
            offset = int(node.metadata.get(DAY_OFFSET_METADATA, 0) or 0)
            newest[node.key] = [p for p, _ in newest_partitions(node.partitions_def, offset, T0)]
    return defs, newest


def _materialize(instance, key, partition, at: datetime):
    with freeze_time(at):
        instance.report_runless_asset_event(AssetMaterialization(key, partition=partition))


def _materialize_all_but(instance, newest, stale_partition, at: datetime):
    for key, partitions in newest.items():
        for partition in partitions:
            if key not in (META_RAW, META_STAGING) or partition != stale_partition:
                _materialize(instance, key, partition, at)


def _tick(defs, instance, receiver, at: datetime, cursor: str | None):
    notifier = DiscordNotifier(webhook_url=receiver.url).set_sleep(lambda s: None)
    with freeze_time(at):
        context = build_sensor_context(
            instance=instance, cursor=cursor, definitions=defs, resources={"discord": notifier}
        )
        result = defs.resolve_sensor_def(SENSOR_NAME)(context)
    return result, result.cursor


def test_only_the_stale_asset_and_partition_is_requested_once(location, instance, receiver):
    defs, newest = location
    assert set(newest) >= {META_RAW, META_STAGING}
    stale_partition = newest[META_RAW][0]
    for key, partitions in newest.items():
        for partition in partitions:
            fresh = not (key in (META_RAW, META_STAGING) and partition == stale_partition)
            _materialize(instance, key, partition, T0 - (timedelta(hours=1) if fresh else timedelta(hours=10)))

    result, cursor = _tick(defs, instance, receiver, T0, None)
    (request,) = result.run_requests
    assert request.partition_key == stale_partition
    assert set(request.asset_selection) == {META_RAW, META_STAGING}  # one op: one run
    ((path, payload),) = receiver.posts
    embed = payload["embeds"][0]
    assert embed["color"] == RED and embed["title"].startswith("Stale: ")
    assert embed["url"].startswith("http://ui.example:3000/assets/raw/meta_ads_insights?view=partitions")

    # Ten minutes later: still stale, already requested and announced.
    result, cursor = _tick(defs, instance, receiver, T0 + timedelta(minutes=10), cursor)
    assert not result.run_requests and len(receiver.posts) == 1

    # A backfill of an old day of the same account does not make the newest day fresh.
    account, day = stale_partition.split("|")
    old_day = (datetime.fromisoformat(day) - timedelta(days=5)).date().isoformat()
    for key in (META_RAW, META_STAGING):
        _materialize(instance, key, f"{account}|{old_day}", T0 + timedelta(minutes=20))
    result, cursor = _tick(defs, instance, receiver, T0 + timedelta(minutes=30), cursor)
    assert not result.run_requests and len(receiver.posts) == 1

    # A whole fail window later, still stale (the others loaded meanwhile): one more request,
    # no second announcement.
    _materialize_all_but(instance, newest, stale_partition, T0 + timedelta(hours=8))
    result, cursor = _tick(defs, instance, receiver, T0 + timedelta(hours=9, minutes=1), cursor)
    assert [r.partition_key for r in result.run_requests] == [stale_partition]
    assert len(receiver.posts) == 1

    # Refreshed: fresh again, posted green once.
    later = T0 + timedelta(hours=9, minutes=5)
    for key in (META_RAW, META_STAGING):
        _materialize(instance, key, stale_partition, later)
    result, cursor = _tick(defs, instance, receiver, later + timedelta(minutes=1), cursor)
    assert not result.run_requests
    greens = [p["embeds"][0] for _, p in receiver.posts[1:]]
    assert [e["color"] for e in greens] == [GREEN]  # raw and staging of the partition, in one
    assert all(e["title"].startswith("Fresh again: ") for e in greens)
    result, cursor = _tick(defs, instance, receiver, later + timedelta(minutes=10), cursor)
    assert not result.run_requests and len(receiver.posts) == 2


def test_after_an_outage_no_storm(location, instance, receiver):
    defs, newest = location
    for key, partitions in newest.items():
        for partition in partitions:
            _materialize(instance, key, partition, T0 - timedelta(days=3))
    # Three days later, nothing loaded since: every source is stale at once.
    now = T0 + timedelta(days=1)
    result, cursor = _tick(defs, instance, receiver, now, None)
    # Meta raw and staging of an account are one op: one request, one alert.
    groups = len({(k in (META_RAW, META_STAGING), p) for k, ps in newest.items() for p in ps})
    assert groups > MAX_ALERTS_PER_TICK + 1
    # One request per stale newest partition (Meta raw + staging together), no more than the cap.
    assert 0 < len(result.run_requests) <= MAX_REQUESTS_PER_TICK
    assert len({(tuple(r.asset_selection), r.partition_key) for r in result.run_requests}) == len(result.run_requests)
    # A few embeds and one summary, not one post per stale partition.
    assert len(receiver.posts) == MAX_ALERTS_PER_TICK + 1
    summary = receiver.posts[-1][1]["embeds"][0]
    assert summary["title"] == f"... and {groups - MAX_ALERTS_PER_TICK} more alert(s)"
    requested = len(result.run_requests)
    # The next tick requests what the cap left over, and nothing twice; no alert again.
    result, cursor = _tick(defs, instance, receiver, now + timedelta(minutes=5), cursor)
    assert requested + len(result.run_requests) == min(groups, 2 * MAX_REQUESTS_PER_TICK)
    assert len(receiver.posts) == MAX_ALERTS_PER_TICK + 1
