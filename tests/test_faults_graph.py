"""Fault suite, Graph API: every error class Meta answers, at the asset level.

The real Meta and Instagram assets run through Dagster (`execute_in_process`) against the
sandbox Graph API over HTTP (the real facebook-business SDK) and a real PostgreSQL. Each
fault is armed on the sandbox, which answers the way Graph (or a proxy in front of it)
does. Each test asserts one of:
- retried: the run succeeds, the sandbox saw the failed request(s) again, the resource
  asked for the waits (its sleep hook records them, nothing sleeps), and the tables hold
  exactly what a run without the fault writes (a clean re-run changes nothing);
- failed fast with a clear message: the run fails, the failing request was sent once, no
  wait, the message names the account, the Graph code and the remedy;
- nothing half-written: after a failure mid-range (pages already received), raw and
  staging are identical, audit columns included, to what they were before the run.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from dagster import AssetKey

from resources.meta import MetaAdsResource
from tests.conftest import run_range
from tests.fault_helpers import Sleeps, fingerprints, root_cause, with_resources
from vetorial_assets.instagram.schedules import JOB_NAME as IG_JOB
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000001"
IG_ACCOUNT = "17841400000000001"
RAW, STAGING = AssetKey(["raw", "meta_ads_insights"]), AssetKey(["staging", "insights_meta_ads"])
META_TABLES = ("raw.meta_ads_insights", "staging.insights_meta_ads")
AUDIT = ("fetched_at", "updated_at")
PAGE = 50  # 4 ads x 6 placements = 24 rows a day: a 5-day range is 3 pages
FIRST, LAST = sandbox_today() - timedelta(days=5), sandbox_today() - timedelta(days=1)
PAGES = 3


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def defs(make_defs, graph_api, sleeps):
    """The project's definitions, with the Meta resource's sleep hook recording instead of
    sleeping and small pages (so a range spans several)."""

    def make(**config):
        settings = dict(graph_url=graph_api.base_url, page_limit=PAGE)
        settings.update(config)
        return with_resources(make_defs(), meta=MetaAdsResource(**settings).set_sleep(sleeps))

    return make


def meta_run(defs, instance, first=FIRST, last=LAST):
    return run_range(defs, META_JOB, "account", ACCOUNT, first, last, instance, raise_on_error=False)


def insight_requests(graph_api, account=ACCOUNT):
    return [r for r in graph_api.requests if r.path.startswith(account) and r.path.endswith("insights")]


def latest(instance, key) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def assert_same_as_a_clean_run(defs, instance, db, graph_api):
    """A re-run without faults finds nothing to change: the faulty run wrote exactly its rows."""
    graph_api.faults.clear()
    before = fingerprints(db, META_TABLES)
    assert before["raw.meta_ads_insights"][0] == 24 * ((LAST - FIRST).days + 1)
    assert meta_run(defs, instance).success
    for key in (RAW, STAGING):
        meta = latest(instance, key)
        assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_deleted"]) == (0, 0, 0), key
        assert meta["rows_unchanged"] == before["raw.meta_ads_insights"][0]
    assert fingerprints(db, META_TABLES) == before


# ---- retried -------------------------------------------------------------------------------
# Several faults armed on one page are served one after the other (each once): the page is
# asked again after each, and the run's log says why it waited each time.


def retry_lines(instance, run_id) -> list[str]:
    return [r.user_message for r in instance.all_logs(run_id) if "; retry " in (r.user_message or "")]


def arm_in_sequence(graph_api, answers) -> list:
    return [graph_api.faults.add(times=1, path_contains="insights", skip=1, **a) for a in answers]


TRANSIENT_CODES = [1, 2, 4, 17, 32, 613, 80000, 80004, 80014]


def test_transient_and_throttling_codes_are_retried_mid_range(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(max_retries=len(TRANSIENT_CODES))
    faults = arm_in_sequence(graph_api, [dict(code=code) for code in TRANSIENT_CODES])  # the 2nd page, 9 times
    result = meta_run(d, instance)
    assert result.success
    assert [f.hits for f in faults] == [1] * len(TRANSIENT_CODES)
    assert len(insight_requests(graph_api)) == PAGES + len(TRANSIENT_CODES)
    assert len(sleeps) == len(TRANSIENT_CODES) and all(s > 0 for s in sleeps)
    lines = retry_lines(instance, result.run_id)
    assert [int(line.split("(code ", 1)[1].split(",", 1)[0]) for line in lines] == TRANSIENT_CODES
    assert all(ACCOUNT in line for line in lines)
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


# What the sandbox answers (fault arguments): Graph's own 500 (a JSON error document, code
# 1), a 500 page from a proxy (HTML), 502/503 with and without a JSON document.
HTTP_5XX = {
    "500 json": dict(http_status=500),
    "500 html": dict(http_status=500, body="<html><body><h1>500 Internal Server Error</h1></body></html>"),
    "502 bare": dict(http_status=502),
    "502 json": dict(code=2, http_status=502),
    "503 bare": dict(http_status=503),
    "503 json": dict(code=2, http_status=503),
    "503 json without code": dict(
        http_status=503,
        body='{"error": {"message": "Service temporarily unavailable", "type": "FacebookApiException"}}',
    ),
}


def test_http_5xx_with_or_without_a_json_body_is_retried(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(max_retries=len(HTTP_5XX))
    faults = arm_in_sequence(graph_api, HTTP_5XX.values())
    result = meta_run(d, instance)
    assert result.success
    assert [f.hits for f in faults] == [1] * len(HTTP_5XX)
    assert len(insight_requests(graph_api)) == PAGES + len(HTTP_5XX) and len(sleeps) == len(HTTP_5XX)
    assert [
        ("HTTP 500" in line, "HTTP 502" in line, "HTTP 503" in line) for line in retry_lines(instance, result.run_id)
    ] == [(True, False, False)] * 2 + [(False, True, False)] * 2 + [(False, False, True)] * 3
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


BROKEN_PAGES = {
    "truncated json": dict(body='{"data":[{"account_id":"100000000000001","account_name":"Allp'),
    "not json": dict(body="<html>upstream connect error</html>"),
    "json but not an object": dict(body='["data"]'),
    "disconnect mid-body": dict(disconnect_after=300),
    "disconnect before the body": dict(disconnect_after=0),
}


def test_a_broken_page_is_fetched_again(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(max_retries=len(BROKEN_PAGES))
    faults = arm_in_sequence(graph_api, BROKEN_PAGES.values())
    result = meta_run(d, instance)
    assert result.success
    assert [f.hits for f in faults] == [1] * len(BROKEN_PAGES)
    requests = insight_requests(graph_api)
    assert len(requests) == PAGES + len(BROKEN_PAGES) and len(sleeps) == len(BROKEN_PAGES)
    # The page asked again is the same page (same cursor), never the next one.
    again = requests[1 : 2 + len(BROKEN_PAGES)]
    assert again[0].params.get("after") and all(r.params == again[0].params for r in again)
    lines = retry_lines(instance, result.run_id)
    assert sum("not a JSON object" in line for line in lines) == 3
    assert sum("could not reach Graph" in line for line in lines) == 2
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


def test_reduce_the_amount_of_data_splits_the_range(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs()
    graph_api.faults.add(code=100, subcode=1487534, times=1, path_contains="insights")
    assert meta_run(d, instance).success
    first_pages = [r.params["time_range"] for r in insight_requests(graph_api) if "after" not in r.params]
    assert len(first_pages) == 3  # the whole range (refused), then its two halves
    assert sleeps == []  # not a rate limit: nothing to wait for
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


def test_a_failed_async_report_job_falls_back_to_smaller_ranges(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(async_threshold_days=2, async_first_poll_seconds=0.5, async_poll_seconds=1.0)
    graph_api.faults.add(async_fail=True, times=1)
    assert meta_run(d, instance).success
    posts = [json.loads(r.params["time_range"]) for r in insight_requests(graph_api) if r.method == "POST"]
    # The failed 5-day job, then its halves: 2 days (under the threshold: read synchronously)
    # and 3 days (an async job again, which completes).
    mid = FIRST + timedelta(days=1)
    assert posts == [
        {"since": str(FIRST), "until": str(LAST)},
        {"since": str(mid + timedelta(days=1)), "until": str(LAST)},
    ]
    assert [graph_api.jobs[j].fail for j in sorted(graph_api.jobs)] == [True, False]
    assert sleeps and all(0 < s <= 1.0 for s in sleeps)  # the status polls waited through the hook
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


def test_usage_headers_past_the_threshold_make_the_run_wait(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(usage_throttle_pct=75, throttle_min_sleep_seconds=10, throttle_max_sleep_seconds=900)
    graph_api.usage.set(pct=92, regain_minutes=4, times=1)  # the first page's headers only
    assert meta_run(d, instance).success
    assert sleeps == [240.0]  # the 4 minutes Meta gave, asked of the hook, not slept
    assert len(insight_requests(graph_api)) == PAGES  # a pause, not a retry
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


def test_a_rate_limit_error_waits_as_long_as_meta_says(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs(throttle_max_sleep_seconds=900)
    graph_api.faults.add(code=80004, times=1, path_contains="insights", regain_minutes=3)
    assert meta_run(d, instance).success
    assert sleeps == [180.0]
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)


# ---- failed fast, nothing half-written ------------------------------------------------------


@pytest.fixture
def loaded(defs, instance, vetorial_env, graph_api, sleeps):
    """The range loaded once, then changed at Meta (a restated day): a run that wrote anything
    of the new answer would change the tables."""
    d = defs()
    assert meta_run(d, instance).success
    graph_api.restate(ACCOUNT, FIRST + timedelta(days=1))
    graph_api.requests.clear()
    sleeps.clear()
    return d, fingerprints(vetorial_env, META_TABLES)


FAIL_FAST = {
    # code, http status, what the message must say
    "190 bad token": (190, 400, "the access token is invalid or expired: renew it"),
    "102 session": (102, 400, "the access token is invalid or expired: renew it"),
    "10 permission": (10, 400, "lacks a permission"),
    "200 permission": (200, 403, "lacks a permission"),
    "294 permission": (294, 400, "lacks a permission"),
    "100 bad parameter": (100, 400, "Invalid parameter"),
}


@pytest.mark.parametrize("case", FAIL_FAST.values(), ids=FAIL_FAST.keys())
def test_auth_permission_and_request_errors_fail_fast_writing_nothing(
    loaded, instance, vetorial_env, graph_api, sleeps, case
):
    d, before = loaded
    code, status, remedy = case
    graph_api.faults.add(code=code, http_status=status, times=None, path_contains="insights", skip=1)
    result = meta_run(d, instance)
    assert not result.success
    message = root_cause(result)
    assert "MetaAuthError" in message if code != 100 else "MetaApiError" in message
    assert f"code {code}" in message and ACCOUNT in message and "fbtrace_id" in message and remedy in message
    assert len(insight_requests(graph_api)) == 2 and sleeps == []  # page 1, then page 2 once: no retry
    assert fingerprints(vetorial_env, META_TABLES) == before
    # The restated day really was on its way: without the fault, the re-run changes rows.
    graph_api.faults.clear()
    assert meta_run(d, instance).success
    assert latest(instance, STAGING)["rows_updated"] > 0


def test_the_sandbox_bad_token_fails_on_the_first_request(defs, instance, vetorial_env, graph_api, sleeps, monkeypatch):
    from vetorial_assets.sandbox.graph_api import INVALID_TOKEN

    monkeypatch.setenv("META_ACCESS_TOKEN", INVALID_TOKEN)
    result = meta_run(defs(), instance)
    assert not result.success
    assert "code 190" in root_cause(result) and "renew it" in root_cause(result)
    assert len(graph_api.requests) == 1 and sleeps == []
    assert fingerprints(vetorial_env, META_TABLES) == {t: (0, None) for t in META_TABLES}


@pytest.mark.parametrize(
    "answer", [dict(code=17), dict(http_status=502), dict(disconnect_after=10)], ids=["17", "502", "disconnect"]
)
def test_retries_that_run_out_fail_clearly_writing_nothing(loaded, instance, vetorial_env, graph_api, sleeps, answer):
    d, before = loaded
    d = with_resources(
        d, meta=MetaAdsResource(graph_url=graph_api.base_url, page_limit=PAGE, max_retries=3).set_sleep(sleeps)
    )
    graph_api.faults.add(times=None, path_contains="insights", skip=1, **answer)
    result = meta_run(d, instance)
    assert not result.success
    message = root_cause(result)
    assert "gave up after 4 attempts" in message and ACCOUNT in message
    assert len(insight_requests(graph_api)) == 1 + 4 and len(sleeps) == 3
    assert fingerprints(vetorial_env, META_TABLES) == before


# ---- Instagram follows: the same client, one request per day --------------------------------

IG_DAYS = (sandbox_today() - timedelta(days=4), sandbox_today() - timedelta(days=2))


def ig_run(defs, instance):
    return run_range(defs, IG_JOB, "account", IG_ACCOUNT, *IG_DAYS, instance, raise_on_error=False)


@pytest.mark.parametrize(
    "answer",
    [dict(code=613), dict(http_status=503), dict(disconnect_after=40), dict(body='{"data": [')],
    ids=["613", "503", "disconnect", "truncated"],
)
def test_instagram_transient_faults_are_retried(defs, instance, vetorial_env, graph_api, sleeps, answer):
    d = defs()
    graph_api.faults.add(times=1, path_contains="insights", skip=1, **answer)
    assert ig_run(d, instance).success
    assert len(graph_api.requests_to(f"{IG_ACCOUNT}/insights")) == 3 + 1 and len(sleeps) == 1
    graph_api.faults.clear()
    before = fingerprints(vetorial_env, ["raw.ig_follows"], exclude=AUDIT)
    assert before["raw.ig_follows"][0] == 3
    assert ig_run(d, instance).success
    assert fingerprints(vetorial_env, ["raw.ig_follows"], exclude=AUDIT) == before


def test_instagram_bad_token_fails_fast_writing_nothing(defs, instance, vetorial_env, graph_api, sleeps):
    d = defs()
    assert ig_run(d, instance).success
    before = fingerprints(vetorial_env, ["raw.ig_follows"])
    graph_api.faults.add(code=190, times=None, path_contains="insights", skip=2)  # the third day
    result = ig_run(d, instance)
    assert not result.success and "renew it" in root_cause(result) and IG_ACCOUNT in root_cause(result)
    assert sleeps == []
    assert fingerprints(vetorial_env, ["raw.ig_follows"]) == before


def test_a_page_with_an_unparsable_header_loads_and_urllib3s_warning_shows_no_token(
    defs, instance, vetorial_env, graph_api, sleeps, caplog
):
    """urllib3 warns "Failed to parse headers (url=...)" with the request's whole URL, at
    WARNING (printed by default): the token in its query string must be masked."""
    from tests.conftest import FAKE_TOKEN

    d = defs()
    graph_api.faults.add(malformed_header=True, times=1, path_contains="insights", skip=1)
    with caplog.at_level(logging.WARNING):
        assert meta_run(d, instance).success
    warnings = [r for r in caplog.records if r.name == "urllib3.connection"]
    assert len(warnings) == 1 and "access_token=***" in warnings[0].getMessage()
    assert FAKE_TOKEN not in caplog.text and sleeps == []  # the page was good: no retry
    assert_same_as_a_clean_run(d, instance, vetorial_env, graph_api)
