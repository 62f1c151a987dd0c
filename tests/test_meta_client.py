"""MetaAdsResource against the sandbox Graph API: the real facebook-business SDK over HTTP."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from datetime import date, timedelta

import pytest

from resources.meta import MetaAdsResource
from resources.support.redaction import redact
from vetorial_assets.meta.graph.client import RetryPolicy, parse_usage
from vetorial_assets.meta.graph.errors import MetaApiError, MetaAuthError, MetaConfigError, MetaConnectionError
from vetorial_assets.meta.graph.insights import INSIGHTS_FIELDS, split_range
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
from vetorial_assets.sandbox.graph_guard import LoopbackGuard

SECRET = "EAAtest-SECRET-token-0123456789abcdef"
ACCOUNT = "act_100000000000001"
TODAY = date(2025, 3, 31)
ADS, PLACEMENTS = 3, 2
ROWS_PER_DAY = ADS * PLACEMENTS


@pytest.fixture
def guard():
    with LoopbackGuard() as g:
        yield g
    assert not g.refused, f"connections outside the sandbox: {g.refused}"


@pytest.fixture
def api(guard):
    with SandboxGraphAPI(ads_per_account=ADS, placements=PLACEMENTS, today=TODAY) as server:
        yield server


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", SECRET)
    monkeypatch.delenv("VETORIAL_META_GRAPH_URL", raising=False)
    return SECRET


class Sleeps(list):
    """Records requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def meta(api, sleeps):
    def make(**config) -> MetaAdsResource:
        settings = dict(
            graph_url=api.base_url,
            page_limit=50,
            backoff_base_seconds=0.01,
            backoff_max_seconds=0.05,
            async_first_poll_seconds=0.0,
            request_timeout_seconds=5.0,
        )
        settings.update(config)
        return MetaAdsResource(**settings).set_sleep(sleeps)

    return make


def fetch(resource: MetaAdsResource, since: date, until: date, account: str = ACCOUNT, **kw) -> list[list[dict]]:
    return list(resource.iter_insights(account, since, until, **kw))


def row_key(row: dict) -> tuple:
    return row["ad_id"], row["date_start"], row["publisher_platform"], row["platform_position"]


def flat(pages) -> list[dict]:
    return [row for page in pages for row in page]


def assert_complete(rows: list[dict], since: date, until: date) -> None:
    keys = [row_key(r) for r in rows]
    assert len(keys) == len(set(keys)), "a row was handed out twice"
    assert len(keys) == ROWS_PER_DAY * ((until - since).days + 1)


# ---- request shape and paging ------------------------------------------------------------


def test_paging_across_pages_sends_the_seed_request(api, meta, guard):
    since, until = date(2025, 3, 1), date(2025, 3, 20)  # 120 rows, pages of 50 -> 3 pages
    pages = fetch(meta(), since, until)
    assert len(pages) == 3 and [len(p) for p in pages] == [50, 50, 20]
    assert_complete(flat(pages), since, until)
    sent = api.requests_to("act_100000000000001/insights")
    assert len(sent) == 3
    first = sent[0].params
    assert first["level"] == "ad" and first["time_increment"] == "1" and first["limit"] == "50"
    assert json.loads(first["time_range"]) == {"since": "2025-03-01", "until": "2025-03-20"}
    assert json.loads(first["breakdowns"]) == ["publisher_platform", "platform_position"]
    assert json.loads(first["action_breakdowns"]) == ["action_type"]
    assert first["fields"].split(",") == list(INSIGHTS_FIELDS)
    assert "after" not in first and sent[1].params["after"] and sent[2].params["after"] != sent[1].params["after"]
    assert all(r.token == SECRET for r in sent)
    assert guard.ports() == {int(api.base_url.rsplit(":", 1)[1])}


def test_rows_are_untouched_graph_dicts(api, meta):
    rows = flat(fetch(meta(), date(2025, 3, 1), date(2025, 3, 1)))
    expected = set(INSIGHTS_FIELDS) | {"publisher_platform", "platform_position"}
    for row in rows:
        assert set(row) - {"actions"} == expected - {"actions"}  # Meta omits `actions` when there are none
    assert isinstance(rows[0]["spend"], str) and rows[0]["account_id"] == "100000000000001"
    assert any(row.get("actions") for row in rows)


def test_async_report_job_for_long_ranges(api, meta, sleeps):
    since, until = date(2025, 1, 1), date(2025, 1, 10)
    rows = flat(fetch(meta(async_threshold_days=5, async_first_poll_seconds=1.5, async_poll_seconds=2.0), since, until))
    assert_complete(rows, since, until)
    assert len(api.requests_to("act_100000000000001/insights", method="POST")) == 1
    [run_id] = list(api.jobs)
    polls = [r for r in api.requests if r.path == run_id]
    assert len(polls) == 3  # Not Started, Running, Completed
    assert sleeps == [1.5, 2.0]  # doubling, capped
    sync_rows = flat(fetch(meta(), since, until))
    assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, sync_rows))


def test_failed_async_job_falls_back_to_smaller_ranges(api, meta):
    api.faults.add(async_fail=True, times=1)
    since, until = date(2025, 1, 1), date(2025, 1, 12)
    rows = flat(fetch(meta(async_threshold_days=5), since, until))
    assert_complete(rows, since, until)
    posts = api.requests_to("act_100000000000001/insights", method="POST")
    ranges = [tuple(json.loads(p.params["time_range"]).values()) for p in posts]
    assert ranges == [("2025-01-01", "2025-01-12"), ("2025-01-01", "2025-01-06"), ("2025-01-07", "2025-01-12")]


def test_async_job_that_never_finishes_times_out_and_falls_back(api, meta, sleeps):
    api.job_polls = 1000
    since, until = date(2025, 1, 1), date(2025, 1, 8)
    resource = meta(
        async_threshold_days=5, async_first_poll_seconds=0.5, async_poll_seconds=0.5, async_timeout_seconds=1.0
    )
    rows = flat(fetch(resource, since, until))
    assert_complete(rows, since, until)
    assert sleeps == [0.5, 0.5]  # then the job is given up on and two 4-day halves read synchronously
    assert len(api.requests_to("act_100000000000001/insights", method="GET")) == 2


def test_graph_url_from_the_environment(api, monkeypatch):
    from vetorial_assets.environment import build_resources
    from vetorial_assets.settings import load_settings

    monkeypatch.setenv("VETORIAL_META_GRAPH_URL", api.base_url)
    assert build_resources(load_settings())["meta"].account_metadata(ACCOUNT)["id"] == ACCOUNT
    assert api.requests[-1].token == SECRET


def test_reduce_data_before_any_row_splits_the_range(api, meta):
    api.faults.add(code=100, subcode=1487534, times=1, path_contains="insights")
    since, until = date(2025, 3, 1), date(2025, 3, 4)
    rows = flat(fetch(meta(), since, until))
    assert_complete(rows, since, until)
    ranges = [json.loads(r.params["time_range"]) for r in api.requests_to("insights") if "after" not in r.params]
    assert ranges[1:] == [
        {"since": "2025-03-01", "until": "2025-03-02"},
        {"since": "2025-03-03", "until": "2025-03-04"},
    ]


def test_reduce_data_mid_stream_halves_the_page_size(api, meta):
    since, until = date(2025, 3, 1), date(2025, 3, 20)
    # No read-ahead: the fault must meet a request made after the first page, not one the
    # helper thread may already have answered.
    resource = meta(read_ahead_pages=0)
    pages = resource.iter_insights(ACCOUNT, since, until)
    first = next(pages)
    api.faults.add(code=100, subcode=1487534, times=1, path_contains="insights")
    rows = first + flat(pages)
    assert_complete(rows, since, until)
    limits = [int(r.params["limit"]) for r in api.requests_to("insights")]
    assert 25 in limits


def test_split_range_halves():
    assert split_range(date(2025, 1, 1), date(2025, 1, 31)) == [
        (date(2025, 1, 1), date(2025, 1, 15)),
        (date(2025, 1, 16), date(2025, 1, 31)),
    ]
    assert split_range(date(2025, 1, 1), date(2025, 1, 1)) == [(date(2025, 1, 1), date(2025, 1, 1))]


# ---- faults: retried and recovered -------------------------------------------------------


@pytest.mark.parametrize("code", [1, 2, 4, 17, 32, 341, 613, 80000, 80004, 80014])
def test_transient_graph_errors_are_retried(api, meta, sleeps, code):
    api.faults.add(code=code, times=2, path_contains="insights")
    since = until = date(2025, 3, 1)
    rows = flat(fetch(meta(), since, until))
    assert_complete(rows, since, until)
    assert len(sleeps) == 2 and all(0 < s <= 0.05 for s in sleeps)
    assert len(api.requests_to("insights")) == 3


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_is_retried(api, meta, sleeps, status):
    api.faults.add(http_status=status, times=1, path_contains="insights")
    rows = flat(fetch(meta(), date(2025, 3, 1), date(2025, 3, 1)))
    assert len(rows) == ROWS_PER_DAY and len(sleeps) == 1


def test_slow_response_times_out_and_is_retried(api, meta, sleeps):
    api.faults.add(delay=1.0, times=1, path_contains="insights")
    rows = flat(fetch(meta(request_timeout_seconds=0.2), date(2025, 3, 1), date(2025, 3, 1)))
    assert len(rows) == ROWS_PER_DAY and len(sleeps) == 1
    api.faults.add(delay=0.05, times=1)  # slow but within the timeout: no retry
    assert meta().account_metadata(ACCOUNT)["currency"] == "BRL" and len(sleeps) == 1


def test_rate_limit_waits_for_the_time_meta_gives(api, meta, sleeps):
    api.faults.add(code=80000, times=1, path_contains="insights", regain_minutes=2)
    flat(fetch(meta(throttle_max_sleep_seconds=900), date(2025, 3, 1), date(2025, 3, 1)))
    assert sleeps == [120.0]


def test_retries_run_out_with_a_clear_error(api, meta, sleeps):
    api.faults.add(code=17, times=None, path_contains="insights")
    with pytest.raises(MetaApiError) as err:
        fetch(meta(max_retries=3), date(2025, 3, 1), date(2025, 3, 1))
    assert err.value.code == 17 and err.value.subcode == 2446079 and err.value.fbtrace_id
    assert "act_100000000000001" in str(err.value) and "gave up after 4 attempts" in str(err.value)
    assert len(api.requests_to("insights")) == 4 and len(sleeps) == 3


def test_backoff_grows_exponentially_with_jitter():
    import random

    policy = RetryPolicy(max_retries=5, backoff_base_seconds=2, backoff_max_seconds=20, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 6)]
    for n, d in enumerate(delays, start=1):
        full = min(20, 2 * 2 ** (n - 1))
        assert full / 2 <= d <= full


# ---- faults: fail fast -------------------------------------------------------------------


def test_invalid_token_fails_at_once(api, meta, sleeps, monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAA-sandbox-INVALID-token")
    with pytest.raises(MetaAuthError) as err:
        fetch(meta(), date(2025, 3, 1), date(2025, 3, 1))
    assert err.value.code == 190 and "act_100000000000001" in str(err.value) and "renew" in str(err.value)
    assert len(api.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "code, status, kind",
    [(190, 401, MetaAuthError), (200, 400, MetaAuthError), (10, 400, MetaAuthError), (100, 400, MetaApiError)],
)
def test_non_transient_errors_fail_at_once(api, meta, sleeps, code, status, kind):
    api.faults.add(code=code, http_status=status, times=1, path_contains="insights")
    with pytest.raises(kind) as err:
        fetch(meta(), date(2025, 3, 1), date(2025, 3, 1))
    assert err.value.code == code and not err.value.transient and err.value.fbtrace_id
    assert f"code {code}" in str(err.value) and "fbtrace_id" in str(err.value)
    assert len(api.requests) == 1 and sleeps == []


def test_missing_token_in_real_mode_names_the_env_var(guard, monkeypatch):
    monkeypatch.delenv("META_TOKEN_ACME", raising=False)
    resource = MetaAdsResource(graph_url="https://graph.facebook.com")
    with pytest.raises(MetaConfigError, match="META_TOKEN_ACME"):
        resource.iter_insights(ACCOUNT, date(2025, 3, 1), date(2025, 3, 1), token_env="META_TOKEN_ACME")
    assert guard.connections == []


def test_per_tenant_token_env(api, meta, monkeypatch):
    monkeypatch.setenv("META_TOKEN_LACREI", "EAAlacreiTOKENvalue999")
    meta().account_metadata(ACCOUNT, token_env="META_TOKEN_LACREI")
    assert api.requests[-1].token == "EAAlacreiTOKENvalue999"


# ---- throttling on usage headers ---------------------------------------------------------


def test_throttles_when_usage_passes_the_threshold(api, meta, sleeps):
    api.usage.set(pct=90, regain_minutes=3, times=1)
    fetch(meta(usage_throttle_pct=75), date(2025, 3, 1), date(2025, 3, 1))
    assert sleeps == [180.0]
    sleeps.clear()
    api.usage.set(pct=60, times=1)
    fetch(meta(usage_throttle_pct=75), date(2025, 3, 1), date(2025, 3, 1))
    assert sleeps == []
    api.usage.set(pct=80, regain_minutes=0, times=1)  # high usage but no ETA: a minimum pause
    fetch(meta(usage_throttle_pct=75, throttle_min_sleep_seconds=7), date(2025, 3, 1), date(2025, 3, 1))
    assert sleeps == [7.0]


def test_parse_usage_headers():
    usage = parse_usage(
        {
            "x-business-use-case-usage": json.dumps(
                {
                    "1": [
                        {
                            "type": "ads_insights",
                            "call_count": 12,
                            "total_cputime": 81,
                            "total_time": 30,
                            "estimated_time_to_regain_access": 4,
                        }
                    ]
                }
            ),
            "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 40.5, "reset_time_duration": 30}),
            "x-app-usage": "not json",
        }
    )
    assert usage.pct == 81 and usage.regain_seconds == 240 and usage.source == "x-business-use-case-usage"
    assert parse_usage({}).pct == 0
    assert parse_usage({"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 99})}).pct == 99


# ---- the token never leaks ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _everything(exc: BaseException) -> str:
    return "\n".join(
        [str(exc), repr(exc), "".join(traceback.format_exception(exc)), json.dumps(exc.__dict__, default=str)]
    )


def test_token_never_reaches_logs_errors_or_rows(api, meta, caplog, guard):
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines, query string included, at DEBUG
    api.faults.add(code=17, times=1, path_contains="insights")
    api.usage.set(pct=95, regain_minutes=1, times=2)
    rows = flat(fetch(meta(), date(2025, 3, 1), date(2025, 3, 20)))
    raw = meta().raw_insights_call(ACCOUNT, date(2025, 3, 1), date(2025, 3, 20))
    assert raw["paging"]["next"] and "access_token=***" in raw["paging"]["next"]
    failures = []
    for code in (190, 100):
        api.faults.add(code=code, times=1)
        with pytest.raises(MetaApiError) as err:
            meta().account_metadata(ACCOUNT)
        failures.append(err.value)
    # Connection errors: requests puts the full URL, access_token included, in its message.
    refused = MetaAdsResource(
        graph_url=f"http://127.0.0.1:{_free_port()}", max_retries=1, backoff_base_seconds=0.001
    ).set_sleep(lambda s: None)
    with pytest.raises(MetaConnectionError) as err:
        list(refused.iter_insights(ACCOUNT, date(2025, 3, 1), date(2025, 3, 1)))
    failures.append(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert "could not reach Graph" in str(err.value) and "access_token=***" in str(err.value)

    assert SECRET in "".join(r.token for r in api.requests)  # it was really sent...
    assert any("retry" in m for m in caplog.messages) and any("pausing" in m for m in caplog.messages)
    assert any("urllib3" in r.name for r in caplog.records)
    assert SECRET not in caplog.text  # ...and never written down
    assert SECRET not in json.dumps(rows) and SECRET not in json.dumps(raw)
    for failure in failures:
        assert SECRET not in _everything(failure)


def test_redact_masks_tokens_in_any_form():
    text = (
        f"GET /v26.0/act_1/insights?access_token={SECRET}&after=x failed; token {SECRET}; "
        "url http://h/?a=1&access_token=OTHER-token-NOT-registered-123&b=2; Authorization: Bearer abcdefgh12345"
    )
    clean = redact(text, [SECRET])
    assert SECRET not in clean and "OTHER-token-NOT-registered-123" not in clean and "abcdefgh12345" not in clean
    assert "after=x" in clean and "a=1" in clean


# ---- metadata, diagnostics, sandbox mode -------------------------------------------------


def test_account_metadata(api, meta):
    info = meta().account_metadata("100000000000002")
    assert info["id"] == "act_100000000000002" and info["currency"] == "BRL"
    assert info["timezone_name"] == "America/Sao_Paulo" and info["attribution_spec"]


def test_sandbox_mode_needs_no_configuration(monkeypatch, guard):
    from vetorial_assets.environment import build_resources
    from vetorial_assets.sandbox.resources import SandboxMetaAdsResource
    from vetorial_assets.settings import load_settings

    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    resource = build_resources(load_settings())["meta"]
    assert isinstance(resource, SandboxMetaAdsResource)
    rows = flat(resource.iter_insights(ACCOUNT, TODAY - timedelta(days=2), TODAY - timedelta(days=1)))
    assert rows and {r["account_id"] for r in rows} == {"100000000000001"}
    assert resource.base_url().startswith("http://127.0.0.1:")


def test_a_long_async_job_logs_its_percentage_and_what_is_left(api, meta, sleeps, caplog):
    import re

    caplog.set_level(logging.INFO)
    api.job_polls = 8
    since, until = date(2025, 1, 1), date(2025, 1, 10)
    rows = flat(fetch(meta(async_threshold_days=5, async_first_poll_seconds=2.0, async_poll_seconds=2.0), since, until))
    assert_complete(rows, since, until)
    lines = [r.getMessage() for r in caplog.records if "% after" in r.getMessage()]
    # Polled every 2 s (not slept: recorded), a line every 5 s or more of waiting.
    assert 2 <= len(lines) <= len(sleeps) // 2, (lines, sleeps)
    assert all(re.search(r"report run \S+ at \d+% after \d+s", line) for line in lines)
    assert any(re.search(r"at [1-9]\d*% after \d+s, about \d+s left", line) for line in lines), lines
