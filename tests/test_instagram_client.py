"""Instagram follows_and_unfollows through MetaAdsResource and the real SDK, against the sandbox."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from resources.meta import MetaAdsResource
from vetorial_assets.meta.graph.errors import MetaApiError, MetaAuthError
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
from vetorial_assets.sandbox.graph_guard import LoopbackGuard

SECRET = "EAAtest-SECRET-instagram-0123456789"
TODAY = date(2025, 3, 31)
IG_ACCOUNTS = ("17841400000000001", "17841400000000002")
SMALL_ACCOUNT = "17841400000000003"  # under 100 followers


@pytest.fixture
def api():
    with LoopbackGuard() as guard, SandboxGraphAPI(ads_per_account=2, placements=1, today=TODAY) as server:
        yield server
        assert guard.ports() <= {int(server.base_url.rsplit(":", 1)[1])}
    assert not guard.refused


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def meta(api, sleeps, monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", SECRET)
    return MetaAdsResource(
        graph_url=api.base_url, backoff_base_seconds=0.01, backoff_max_seconds=0.02, request_timeout_seconds=5
    ).set_sleep(sleeps.append)


def follow_types(body: dict) -> dict[str, int]:
    results = body["data"][0]["total_value"]["breakdowns"][0]["results"]
    return {r["dimension_values"][0]: r["value"] for r in results}


def test_one_day_per_account_with_follow_type_breakdown(api, meta):
    day = TODAY - timedelta(days=3)
    answers = {ig: meta.ig_follows_and_unfollows(ig, day) for ig in IG_ACCOUNTS}
    for ig, body in answers.items():
        follows, unfollows, unknown = api.data.ig_movement(ig, day)
        assert follow_types(body)["FOLLOWER"] == follows and follow_types(body)["NON_FOLLOWER"] == unfollows
        assert body["data"][0]["name"] == "follows_and_unfollows"
        assert body["data"][0]["total_value"]["value"] == follows + unfollows + unknown
    assert answers[IG_ACCOUNTS[0]] != answers[IG_ACCOUNTS[1]]
    sent = api.requests_to("17841400000000001/insights")[0].params
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("America/Sao_Paulo"))
    assert sent == {
        "metric": "follows_and_unfollows",
        "period": "day",
        "metric_type": "total_value",
        "breakdown": "follow_type",
        "since": str(int(midnight.timestamp())),
        "until": str(int((midnight + timedelta(days=1)).timestamp())),
    }


def test_day_bounds_follow_the_configured_time_zone(meta):
    since, until = meta.ig_day_bounds(date(2025, 3, 1))
    assert until - since == 86400
    assert datetime.fromtimestamp(since, ZoneInfo("America/Sao_Paulo")).hour == 0


def test_small_account_has_no_data(api, meta):
    assert meta.ig_follows_and_unfollows(SMALL_ACCOUNT, TODAY - timedelta(days=5)) == {"data": []}


def test_late_day_is_empty_until_meta_processes_it(api, meta):
    yesterday, day_before = TODAY - timedelta(days=1), TODAY - timedelta(days=2)
    assert meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], yesterday) == {"data": []}  # within the 48 h lag
    assert meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], day_before)["data"]
    api.withhold_ig_day(IG_ACCOUNTS[1], day_before)  # an older day that is late too
    assert meta.ig_follows_and_unfollows(IG_ACCOUNTS[1], day_before) == {"data": []}
    api.release_ig_day(IG_ACCOUNTS[1], day_before)  # the next run finds it filled in
    body = meta.ig_follows_and_unfollows(IG_ACCOUNTS[1], day_before)
    assert follow_types(body)["FOLLOWER"] == api.data.ig_movement(IG_ACCOUNTS[1], day_before)[0]


def test_transient_faults_are_retried(api, meta, sleeps):
    api.faults.add(code=4, times=1, path_contains="insights")
    api.faults.add(http_status=503, times=1, path_contains="insights")
    assert meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], TODAY - timedelta(days=4))["data"]
    assert len(sleeps) == 2 and len(api.requests) == 3


def test_permission_and_token_errors_fail_fast_without_the_token(api, meta, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    errors = []
    for code in (10, 190):
        api.faults.add(code=code, times=1, path_contains="insights")
        with pytest.raises(MetaAuthError) as err:
            meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], TODAY - timedelta(days=4))
        assert err.value.code == code and IG_ACCOUNTS[0] in str(err.value)
        errors.append(err.value)
    api.faults.add(code=100, times=1, path_contains="insights")
    with pytest.raises(MetaApiError):
        meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], TODAY - timedelta(days=4))
    assert sleeps == [] and len(api.requests) == 3
    for error in errors:
        assert SECRET not in str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert SECRET not in caplog.text


def test_answers_carry_no_token(api, meta):
    body = meta.ig_follows_and_unfollows(IG_ACCOUNTS[0], TODAY - timedelta(days=6))
    assert SECRET not in json.dumps(body)
    assert api.requests[-1].token == SECRET
