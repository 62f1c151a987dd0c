"""Check alerts: a check failing at ERROR posts one red embed (linking to the check and the run in the
UI), its recovery one green embed; a 429 is waited as Discord says; a broken webhook never fails the
sensor. Real checks on a real warehouse, a local HTTP receiver standing in for Discord."""

from __future__ import annotations

import pytest
from dagster import AssetSelection, AssetSpec, Definitions, build_sensor_context, define_asset_job

from asset_checks import meta as meta_checks
from asset_checks.library import table_checks
from resources.discord import GREEN, RED, DiscordNotifier
from tests.test_checks_sources import _meta_history, warehouse  # noqa: F401 (fixture)
from tests.test_faults_discord import Receiver
from vetorial_assets.alerts.checks import SENSOR_NAME, discord_on_check_failure

SPEC = meta_checks.RAW


@pytest.fixture
def location(warehouse, monkeypatch):  # noqa: F811
    monkeypatch.setenv("VETORIAL_UI_URL", "http://dagster.internal:3000")
    _meta_history(warehouse)
    return Definitions(
        assets=[AssetSpec(SPEC.asset)],
        asset_checks=[table_checks(SPEC)],
        jobs=[define_asset_job("checks", selection=AssetSelection.checks_for_assets(SPEC.asset))],
        sensors=[discord_on_check_failure],
        resources={"warehouse": warehouse},
    )


def _run_checks(defs, instance):
    return defs.resolve_job_def("checks").execute_in_process(instance=instance, raise_on_error=False).run_id


def _tick(defs, instance, notifier, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources={"discord": notifier})
    defs.resolve_sensor_def(SENSOR_NAME)(context)
    return context.cursor


@pytest.fixture
def receivers():
    made = []

    def make(*answers):
        made.append(Receiver(answers or [(204, None, None, 0)]))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_error_check_red_once_then_green_on_recovery(location, warehouse, instance, receivers):  # noqa: F811
    receiver = receivers()
    notifier = DiscordNotifier(webhook_url=receiver.url)
    _run_checks(location, instance)
    cursor = _tick(location, instance, notifier, None)
    assert receiver.posts == []  # every check passes: nothing to say

    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP COLUMN content_hash")
    failed_run = _run_checks(location, instance)
    cursor = _tick(location, instance, notifier, cursor)
    ((_, payload),) = receiver.posts
    embed = payload["embeds"][0]
    assert embed["color"] == RED and embed["title"] == "Check failed: raw/meta_ads_insights: columns"
    assert "content_hash" in embed["description"]
    assert embed["url"] == "http://dagster.internal:3000/assets/raw/meta_ads_insights?view=checks&checkDetail=columns"
    assert {"name": "run", "value": f"http://dagster.internal:3000/runs/{failed_run}", "inline": True} in embed[
        "fields"
    ]

    # Still failing, evaluated again: not posted again.
    _run_checks(location, instance)
    cursor = _tick(location, instance, notifier, cursor)
    assert len(receiver.posts) == 1

    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights ADD COLUMN content_hash text NOT NULL DEFAULT 'h'")
    _run_checks(location, instance)
    cursor = _tick(location, instance, notifier, cursor)
    assert len(receiver.posts) == 2
    green = receiver.posts[1][1]["embeds"][0]
    assert green["color"] == GREEN and green["title"] == "Check passes again: raw/meta_ads_insights: columns"
    _tick(location, instance, notifier, cursor)
    assert len(receiver.posts) == 2


def test_a_429_is_honoured_and_the_alert_delivered(location, warehouse, instance, receivers):  # noqa: F811
    receiver = receivers((429, {"retry_after": 0.25, "global": False}, None, 0), (204, None, None, 0))
    sleeps = []
    notifier = DiscordNotifier(webhook_url=receiver.url).set_sleep(sleeps.append)
    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP COLUMN payload")
    _run_checks(location, instance)
    _tick(location, instance, notifier, None)
    assert sleeps == [0.25]
    assert len(receiver.posts) == 2 and receiver.posts[0][1] == receiver.posts[1][1]
    assert receiver.posts[1][1]["embeds"][0]["title"] == "Check failed: raw/meta_ads_insights: columns"


def test_a_broken_webhook_never_fails_the_sensor(location, warehouse, instance, caplog):  # noqa: F811
    # A port nothing listens on.
    notifier = DiscordNotifier(
        webhook_url="http://127.0.0.1:9/api/webhooks/1/broken-token-xyz", attempts=1, timeout_seconds=1
    )
    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP COLUMN payload")
    _run_checks(location, instance)
    cursor = _tick(location, instance, notifier, None)
    assert "raw/meta_ads_insights:columns" in cursor  # the failure is remembered: not re-sent each tick
    assert any("Discord alert failed" in r.getMessage() for r in caplog.records)
    assert "broken-token-xyz" not in caplog.text
