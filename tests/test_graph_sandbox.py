"""The sandbox Graph API itself, driven through the real facebook-business SDK over HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from vetorial_assets.sandbox.graph_api import INVALID_TOKEN, SandboxGraphAPI, spawn
from vetorial_assets.sandbox.graph_guard import LoopbackGuard

ACCOUNT = "act_100000000000001"
TODAY = date(2025, 3, 31)
TOKEN = "EAAtestSANDBOXtoken42"
FIELDS = (
    "account_id,account_name,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,"
    "spend,impressions,reach,inline_link_clicks,actions"
)


@pytest.fixture
def guard():
    with LoopbackGuard() as g:
        yield g
    assert not g.refused


@pytest.fixture
def api(guard):
    with SandboxGraphAPI(ads_per_account=4, placements=3, today=TODAY) as server:
        yield server


def sdk(base_url: str, token: str = TOKEN) -> FacebookAdsApi:
    session = FacebookSession(access_token=token)
    session.GRAPH = base_url
    return FacebookAdsApi(session)


def insights(fb: FacebookAdsApi, since: str, until: str, path=(ACCOUNT, "insights"), **extra) -> dict:
    params = {
        "level": "ad",
        "fields": FIELDS,
        "time_range": {"since": since, "until": until},
        "time_increment": 1,
        "breakdowns": ["publisher_platform", "platform_position"],
        "action_breakdowns": ["action_type"],
        "limit": 500,
        **extra,
    }
    return fb.call("GET", path, params=params).json()


def actions(row: dict) -> dict[str, int]:
    return {a["action_type"]: int(a["value"]) for a in row.get("actions", [])}


def test_account_node_and_edges(api):
    fb = sdk(api.base_url)
    node = fb.call("GET", (ACCOUNT,), params={"fields": "name,currency,timezone_name,attribution_spec"}).json()
    assert node["id"] == ACCOUNT
    assert node["currency"] == "BRL" and node["timezone_name"] == "America/Sao_Paulo"
    assert {"event_type": "CLICK_THROUGH", "window_days": 7} in node["attribution_spec"]
    ads = fb.call("GET", (ACCOUNT, "ads"), params={"fields": "name,adset_id,campaign_id"}).json()["data"]
    assert len(ads) == 4 and all(ad["name"].startswith("Anúncio") for ad in ads)
    campaigns = fb.call("GET", (ACCOUNT, "campaigns"), params={"fields": "name,objective"}).json()["data"]
    assert {c["id"] for c in campaigns} == {ad["campaign_id"] for ad in ads}


def test_insights_rows_follow_meta_shape(api):
    body = insights(sdk(api.base_url), "2025-03-01", "2025-03-02")
    rows = body["data"]
    assert len(rows) == 4 * 3 * 2  # ads x placements x days
    row = rows[0]
    assert list(row)[:12] == FIELDS.split(",")[:12]
    assert row["account_id"] == "100000000000001"  # no act_ prefix, like Meta
    assert isinstance(row["spend"], str) and isinstance(row["impressions"], str)
    assert row["date_start"] == row["date_stop"] == "2025-03-01"
    assert {r["publisher_platform"] for r in rows} == {"facebook", "instagram"}
    assert len({(r["ad_id"], r["date_start"], r["publisher_platform"], r["platform_position"]) for r in rows}) == 24
    for r in rows:
        acts = actions(r)
        # Meta's `lead` is the sum of on-Facebook form leads and website pixel leads.
        assert acts.get("lead", 0) == acts.get("onsite_conversion.lead_grouped", 0) + acts.get(
            "offsite_conversion.fb_pixel_lead", 0
        )
        assert acts.get("post_engagement", 0) >= acts.get("link_click", 0)
        assert all(v > 0 for v in acts.values())  # zero actions are left out
        assert int(r["reach"]) <= int(r["impressions"])


def test_data_is_deterministic_across_servers(guard):
    with (
        SandboxGraphAPI(ads_per_account=4, placements=3, today=TODAY) as a,
        SandboxGraphAPI(ads_per_account=4, placements=3, today=TODAY) as b,
    ):
        first = insights(sdk(a.base_url), "2025-02-01", "2025-02-03")["data"]
        second = insights(sdk(b.base_url), "2025-02-01", "2025-02-03")["data"]
    assert first == second


def test_fields_level_and_breakdowns_are_honoured(api):
    fb = sdk(api.base_url)
    by_ad = insights(fb, "2025-03-01", "2025-03-01")["data"]
    params = {
        "level": "campaign",
        "fields": "campaign_id,spend,impressions",
        "time_increment": 1,
        "time_range": {"since": "2025-03-01", "until": "2025-03-01"},
    }
    by_campaign = fb.call("GET", (ACCOUNT, "insights"), params=params).json()["data"]
    assert set(by_campaign[0]) == {"campaign_id", "spend", "impressions", "date_start", "date_stop"}
    assert sum(int(r["impressions"]) for r in by_campaign) == sum(int(r["impressions"]) for r in by_ad)
    assert round(sum(float(r["spend"]) for r in by_campaign), 2) == round(sum(float(r["spend"]) for r in by_ad), 2)
    with pytest.raises(FacebookRequestError) as err:
        fb.call("GET", (ACCOUNT, "insights"), params={"fields": "spend,bogus_field", "time_increment": 1})
    assert err.value.api_error_code() == 100 and "bogus_field" in err.value.api_error_message()


def test_cursor_paging_and_next_links(api):
    fb = sdk(api.base_url)
    first = insights(fb, "2025-03-01", "2025-03-10", limit=50)
    assert len(first["data"]) == 50
    next_url = first["paging"]["next"]
    query = parse_qs(urlsplit(next_url).query)
    assert query["access_token"] == [TOKEN]  # like Meta's: why clients must redact these links
    assert query["after"] == [first["paging"]["cursors"]["after"]]
    seen = list(first["data"])
    url = next_url
    while url:
        page = requests.get(url, timeout=10).json()
        seen += page["data"]
        url = page["paging"].get("next")
    assert len(seen) == 4 * 3 * 10
    keys = [(r["ad_id"], r["date_start"], r["publisher_platform"], r["platform_position"]) for r in seen]
    assert len(set(keys)) == len(keys)


def test_restate_changes_only_that_day_deterministically(api, guard):
    fb = sdk(api.base_url)
    before = insights(fb, "2025-03-01", "2025-03-02")["data"]
    api.restate(ACCOUNT, date(2025, 3, 2))
    after = insights(fb, "2025-03-01", "2025-03-02")["data"]
    day1 = [r for r in before if r["date_start"] == "2025-03-01"]
    assert [r for r in after if r["date_start"] == "2025-03-01"] == day1
    changed = [r for r in after if r["date_start"] == "2025-03-02"]
    assert changed != [r for r in before if r["date_start"] == "2025-03-02"]
    with SandboxGraphAPI(ads_per_account=4, placements=3, today=TODAY) as other:
        other.restate(ACCOUNT, date(2025, 3, 2))
        assert insights(sdk(other.base_url), "2025-03-01", "2025-03-02")["data"] == after


def test_vanish_day_and_ads(api):
    fb = sdk(api.base_url)
    api.vanish(ACCOUNT, date(2025, 3, 1))
    rows = insights(fb, "2025-03-01", "2025-03-02")["data"]
    assert {r["date_start"] for r in rows} == {"2025-03-02"}
    gone = rows[0]["ad_id"]
    api.vanish_ads(ACCOUNT, [gone], day=date(2025, 3, 2))
    rows = insights(fb, "2025-03-02", "2025-03-03")["data"]
    assert gone not in {r["ad_id"] for r in rows if r["date_start"] == "2025-03-02"}
    assert gone in {r["ad_id"] for r in rows if r["date_start"] == "2025-03-03"}


def test_async_report_job(api):
    fb = sdk(api.base_url)
    params = {
        "level": "ad",
        "fields": FIELDS,
        "time_range": {"since": "2025-03-01", "until": "2025-03-03"},
        "time_increment": 1,
        "breakdowns": ["publisher_platform", "platform_position"],
    }
    run_id = fb.call("POST", (ACCOUNT, "insights"), params=params).json()["report_run_id"]
    statuses = []
    while not statuses or statuses[-1] not in ("Job Completed", "Job Failed"):
        statuses.append(fb.call("GET", (run_id,)).json()["async_status"])
    assert statuses == ["Job Not Started", "Job Running", "Job Completed"]
    results = fb.call("GET", (run_id, "insights"), params={"limit": 1000}).json()["data"]
    assert results == insights(fb, "2025-03-01", "2025-03-03")["data"]
    posted = api.requests_to("insights", method="POST")[0]
    assert json.loads(posted.params["breakdowns"]) == ["publisher_platform", "platform_position"]


def test_async_job_failure_fault(api):
    fb = sdk(api.base_url)
    api.faults.add(async_fail=True)
    run_id = fb.call("POST", (ACCOUNT, "insights"), params={"time_increment": 1}).json()["report_run_id"]
    status = [fb.call("GET", (run_id,)).json()["async_status"] for _ in range(3)]
    assert status[-1] == "Job Failed"
    # The fault is used up: the next job completes.
    run_id = fb.call("POST", (ACCOUNT, "insights"), params={"time_increment": 1}).json()["report_run_id"]
    assert [fb.call("GET", (run_id,)).json()["async_status"] for _ in range(3)][-1] == "Job Completed"


@pytest.mark.parametrize(
    "code, subcode, transient",
    [
        (4, None, True),
        (17, 2446079, True),
        (32, None, True),
        (613, 1487742, True),
        (80000, None, True),
        (80014, None, True),
        (100, 1487534, False),
        (200, None, False),
    ],
)
def test_error_faults_answer_like_graph(api, code, subcode, transient):
    fb = sdk(api.base_url)
    api.faults.add(code=code, subcode=subcode, times=1, path_contains="insights")
    with pytest.raises(FacebookRequestError) as err:
        insights(fb, "2025-03-01", "2025-03-01")
    error = err.value.body()["error"]
    assert err.value.http_status() == 400
    assert error["code"] == code and error.get("error_subcode") == subcode
    assert error["is_transient"] is transient and error["fbtrace_id"]
    assert insights(fb, "2025-03-01", "2025-03-01")["data"]  # consumed after `times`


def test_http_faults_slow_answers_and_path_filter(api):
    fb = sdk(api.base_url)
    api.faults.add(http_status=503, times=1, path_contains="campaigns")
    fb.call("GET", (ACCOUNT,))  # does not match the path filter
    with pytest.raises(FacebookRequestError) as err:
        fb.call("GET", (ACCOUNT, "campaigns"))
    assert err.value.http_status() == 503
    api.faults.add(http_status=500)
    with pytest.raises(FacebookRequestError) as err:
        fb.call("GET", (ACCOUNT,))
    assert err.value.http_status() == 500 and err.value.api_error_code() == 1
    api.faults.add(delay=0.3, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session = FacebookSession(access_token=TOKEN, timeout=0.05)
        session.GRAPH = api.base_url
        FacebookAdsApi(session).call("GET", (ACCOUNT,))


def test_tokens_and_usage_headers(api):
    with pytest.raises(FacebookRequestError) as err:
        sdk(api.base_url, INVALID_TOKEN).call("GET", (ACCOUNT,))
    assert err.value.api_error_code() == 190
    assert INVALID_TOKEN not in json.dumps(err.value.body())
    response = sdk(api.base_url).call("GET", (ACCOUNT, "insights"), params={"time_increment": 1})
    buc = json.loads(response.headers()["x-business-use-case-usage"])
    assert buc["100000000000001"][0]["call_count"] < 10
    api.usage.set(pct=91, regain_minutes=3, times=1)
    response = sdk(api.base_url).call("GET", (ACCOUNT,))
    assert json.loads(response.headers()["x-ad-account-usage"])["acc_id_util_pct"] == 91
    buc = json.loads(response.headers()["x-business-use-case-usage"])["100000000000001"][0]
    assert buc["estimated_time_to_regain_access"] == 3
    after = sdk(api.base_url).call("GET", (ACCOUNT,))
    assert json.loads(after.headers()["x-ad-account-usage"])["acc_id_util_pct"] < 10
    recorded = api.requests[-1]
    assert recorded.token == TOKEN and "access_token" not in recorded.params


def test_instagram_follows_and_unfollows(api):
    fb = sdk(api.base_url)
    day = TODAY - timedelta(days=5)
    params = {
        "metric": "follows_and_unfollows",
        "period": "day",
        "metric_type": "total_value",
        "breakdown": "follow_type",
        "since": day.isoformat(),
        "until": (day + timedelta(days=1)).isoformat(),
    }
    body = fb.call("GET", ("17841400000000001", "insights"), params=params).json()
    metric = body["data"][0]
    assert metric["name"] == "follows_and_unfollows" and metric["period"] == "day"
    breakdown = metric["total_value"]["breakdowns"][0]
    assert breakdown["dimension_keys"] == ["follow_type"]
    values = {r["dimension_values"][0]: r["value"] for r in breakdown["results"]}
    assert set(values) <= {"FOLLOWER", "NON_FOLLOWER", "UNKNOWN"} and values["FOLLOWER"] > 0
    assert metric["total_value"]["value"] == sum(values.values())
    # Under 100 followers: Meta answers with no data at all.
    assert fb.call("GET", ("17841400000000003", "insights"), params=params).json() == {"data": []}
    # Data lags up to 48 h: yesterday is empty until Meta (the knob) releases it.
    late = dict(params, since=(TODAY - timedelta(days=1)).isoformat(), until=TODAY.isoformat())
    assert fb.call("GET", ("17841400000000001", "insights"), params=late).json() == {"data": []}
    api.release_ig_day("17841400000000001", TODAY - timedelta(days=1))
    assert fb.call("GET", ("17841400000000001", "insights"), params=late).json()["data"]


def test_standalone_process(guard):
    with spawn(ads_per_account=2, placements=2, today=TODAY) as proc:
        body = insights(sdk(proc.url), "2025-03-01", "2025-03-01")
    assert len(body["data"]) == 4
