"""MetaAdsResource: the Meta Marketing / Instagram Graph API as a Dagster resource.

Where it talks to: `graph_url`, else VETORIAL_META_GRAPH_URL, else https://graph.facebook.com (environment.py gives the
sandbox's subclass, vetorial_assets/sandbox/resources.py, on a zero-config demo). Which
token: the env var whose NAME the tenant gives (`meta_token_env`); unset, a clear error
naming the variable (never its value).

The token never leaves the HTTP layer: logs, exception messages and returned payloads
are redacted (resources/support/redaction.py), and raised errors carry no chained exception.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from facebook_business.api import FacebookAdsApi
from pydantic import Field, PrivateAttr

from vetorial_assets.meta.graph.client import GraphClient, RetryPolicy, ThrottlePolicy
from vetorial_assets.meta.graph.errors import MetaConfigError
from vetorial_assets.meta.graph.insights import AsyncPolicy, InsightsFetcher, insights_params
from vetorial_assets.settings import DEFAULT_TIMEZONE, meta_graph_url, secret

from .support.read_ahead import read_ahead
from .support.redaction import install_log_redaction, redact, redact_obj, register_secret

# A Dagster logger: inside a run, retries, throttle pauses and fallbacks show in the run's
# log (a plain module logger reaches only the process's stderr); outside one, it is an
# ordinary Python logger.
log = dg.get_dagster_logger("vetorial.meta")

DEFAULT_TOKEN_ENV = "META_ACCESS_TOKEN"
GRAPH_API_URL = "https://graph.facebook.com"
ACCOUNT_FIELDS = (
    "name",
    "account_id",
    "currency",
    "timezone_name",
    "timezone_offset_hours_utc",
    "account_status",
    "attribution_spec",
)


def ad_account_path(account_id: str) -> str:
    text = str(account_id).strip()
    return text if text.startswith("act_") else f"act_{text}"


class MetaAdsResource(dg.ConfigurableResource):
    """Meta Ads insights, ad account metadata and Instagram follows over the facebook-business SDK."""

    graph_url: str | None = Field(
        default=None, description="Graph base URL; None: VETORIAL_META_GRAPH_URL, else https://graph.facebook.com."
    )
    api_version: str = Field(default=FacebookAdsApi.API_VERSION, description="Graph API version, e.g. v26.0.")
    page_limit: int = Field(default=500, description="Rows per insights page (the seed's limit).")
    read_ahead_pages: int = Field(
        default=2, ge=0, description="Insights pages fetched by a helper thread ahead of the caller (0: none)."
    )
    max_retries: int = Field(default=5, description="Retries of a transient error before giving up.")
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 120.0
    backoff_jitter: float = Field(default=0.5, description="Fraction of each backoff delay that is random.")
    usage_throttle_pct: float = Field(
        default=75.0, description="Pause when any usage header reports at least this percentage."
    )
    throttle_min_sleep_seconds: float = 10.0
    throttle_max_sleep_seconds: float = 900.0
    async_threshold_days: int = Field(default=31, description="Longer ranges use async report jobs.")
    async_first_poll_seconds: float = Field(default=0.5, description="First wait for an async job; doubles.")
    async_poll_seconds: float = Field(default=10.0, description="Longest wait between async job polls.")
    async_timeout_seconds: float = 1800.0
    request_timeout_seconds: float = 120.0
    ig_timezone: str = Field(default=DEFAULT_TIMEZONE, description="Time zone of an Instagram 'day'.")

    _sleep: Callable[[float], None] | None = PrivateAttr(default=None)
    _log_callback: Callable[[int, str], None] | None = PrivateAttr(default=None)

    # ---- hooks for callers and tests ---------------------------------------------------
    def set_sleep(self, sleep: Callable[[float], None]) -> MetaAdsResource:
        """Replace time.sleep for backoff, throttling and polling (tests record instead of sleeping)."""
        self._sleep = sleep
        return self

    def set_log_callback(self, callback: Callable[[int, str], None] | None) -> MetaAdsResource:
        """Also send (level, redacted message) to e.g. a Dagster context.log."""
        self._log_callback = callback
        return self

    def _with_updated_values(self, values):
        # Dagster makes a new instance of the resource for every run (from its config fields
        # only): carry the hooks over, or a test's sleep hook would be lost by the time the
        # asset runs, and retries and throttle pauses would really sleep.
        out = super()._with_updated_values(values)
        out._sleep, out._log_callback = self._sleep, self._log_callback
        return out

    # ---- configuration -----------------------------------------------------------------
    def base_url(self) -> str:
        # A run config for the resource drops graph_url: the configured URL then still applies.
        return (self.graph_url or meta_graph_url() or GRAPH_API_URL).rstrip("/")

    def token(self, token_env: str = DEFAULT_TOKEN_ENV, base_url: str | None = None) -> str:
        value = secret(token_env)
        if value:
            register_secret(value)
            return value
        raise MetaConfigError(
            f"no Meta access token: the env var {token_env} is not set (tenants.yaml names it "
            "in meta_token_env); export it before running against the real Graph API"
        )

    def _sleeper(self) -> Callable[[float], None]:
        return self._sleep if self._sleep is not None else time_module.sleep

    def _emit(self, level: int, message: str) -> None:
        text = redact(message)
        log.log(level, text)
        if self._log_callback is not None:
            self._log_callback(level, text)

    def client(self, token_env: str = DEFAULT_TOKEN_ENV) -> GraphClient:
        """A fresh Graph client (one per call or iteration: requests sessions are not thread-safe)."""
        install_log_redaction()
        base = self.base_url()
        return GraphClient(
            base,
            self.token(token_env, base),
            api_version=self.api_version,
            timeout=self.request_timeout_seconds,
            retry=RetryPolicy(
                self.max_retries, self.backoff_base_seconds, self.backoff_max_seconds, self.backoff_jitter
            ),
            throttle=ThrottlePolicy(
                self.usage_throttle_pct, self.throttle_min_sleep_seconds, self.throttle_max_sleep_seconds
            ),
            sleep=self._sleeper(),
            log=self._emit,
        )

    # ---- public API used by the assets -------------------------------------------------
    def iter_insights(
        self, account_id: str, since: date, until: date, token_env: str = DEFAULT_TOKEN_ENV
    ) -> Iterator[list[dict]]:
        """Pages of raw insight rows (Graph's dicts) for the inclusive range since..until.

        level=ad, one row per ad x day x publisher_platform x platform_position. Async report
        jobs above `async_threshold_days`; failed jobs / "reduce the amount of data" fall back
        to smaller date ranges. Transient errors are retried; others raise MetaApiError /
        MetaAuthError (code, subcode, fbtrace_id, account id in the message).
        """
        account = ad_account_path(account_id)
        client = self.client(token_env)  # resolve the token now, so a missing one fails at the call
        fetcher = InsightsFetcher(
            client,
            page_limit=self.page_limit,
            policy=AsyncPolicy(
                self.async_threshold_days,
                self.async_poll_seconds,
                self.async_timeout_seconds,
                self.async_first_poll_seconds,
            ),
            sleep=self._sleeper(),
            log=self._emit,
        )

        def pages() -> Iterator[list[dict]]:
            started, rows = time_module.perf_counter(), 0
            for page in fetcher.pages(account, since, until):
                rows += len(page)
                yield page
            elapsed = time_module.perf_counter() - started
            self._emit(
                logging.INFO,
                f"insights for {account} {since}..{until}: {rows} rows in "
                f"{client.requests_made} requests, {elapsed:.1f}s",
            )

        # Graph takes a while to answer each page: wait for the next one while the caller
        # lands this one.
        return read_ahead(pages(), self.read_ahead_pages, name=f"graph-pages-{account}")

    def raw_insights_call(self, account_id: str, since: date, until: date, token_env: str = DEFAULT_TOKEN_ENV) -> dict:
        """One raw insights page (the `audit-payload` diagnostic), paging links redacted."""
        account = ad_account_path(account_id)
        client = self.client(token_env)
        body = client.get(
            (account, "insights"),
            insights_params(since, until, self.page_limit),
            what=f"insights for {account} {since}..{until}",
            account=account,
        )
        return redact_obj(body)

    def account_metadata(self, account_id: str, token_env: str = DEFAULT_TOKEN_ENV) -> dict:
        """Name, currency, time zone, status and attribution settings of an ad account."""
        account = ad_account_path(account_id)
        body = self.client(token_env).get(
            (account,), {"fields": ",".join(ACCOUNT_FIELDS)}, what=f"metadata of {account}", account=account
        )
        return redact_obj(body)

    def ig_day_bounds(self, day: date) -> tuple[int, int]:
        """(since, until) Unix timestamps of a calendar day in `ig_timezone`: [midnight, next midnight).

        Graph's since/until delimit a time range; a `period=day` total covers the days starting
        in it, and Meta itself reports a day's end as the next midnight (`end_time`).
        """
        tz = ZoneInfo(self.ig_timezone)
        start = datetime.combine(day, time.min, tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tz)
        return int(start.timestamp()), int(end.timestamp())

    def ig_follows_and_unfollows(self, ig_user_id: str, day: date, token_env: str = DEFAULT_TOKEN_ENV) -> dict:
        """The raw `follows_and_unfollows` response (breakdown follow_type) for one day.

        `{"data": []}` is a valid answer: accounts under 100 followers and days Meta has not
        processed yet (up to 48 h late) have no data.
        """
        since, until = self.ig_day_bounds(day)
        params = {
            "metric": "follows_and_unfollows",
            "period": "day",
            "metric_type": "total_value",
            "breakdown": "follow_type",
            "since": since,
            "until": until,
        }
        body = self.client(token_env).get(
            (str(ig_user_id), "insights"),
            params,
            what=f"follows_and_unfollows of IG {ig_user_id} on {day}",
            account=str(ig_user_id),
        )
        return redact_obj(body)
