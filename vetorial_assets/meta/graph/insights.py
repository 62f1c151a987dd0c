"""How Meta Ads insights are fetched: sync paging, async report jobs, smaller chunks on failure.

The request is the seed's (vetorial-meta-ads-etl.md): level=ad, one row per day
(time_increment=1), broken down by publisher_platform + platform_position, with
action_breakdowns=action_type so `actions` tells form, pixel and messaging leads apart.
Ranges longer than `async_threshold_days` go through an async report job (Meta's advice
for large reads). When a job fails or Graph answers "reduce the amount of data"
(100/1487534) before any row of a range was handed out, the range is split in halves
and each half fetched on its own; mid-stream, the page size is halved instead, so no
row is ever handed out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from resources.load.progress import PROGRESS_EVERY_SECONDS, eta_seconds

from .client import GraphClient, LogFn, next_cursor
from .errors import MetaApiError, MetaAsyncJobError, MetaReduceDataError

# The seed's columns, plus nothing the cleaner does not use (every field costs parse time).
INSIGHTS_FIELDS: tuple[str, ...] = (
    "account_id",
    "account_name",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "spend",
    "impressions",
    "reach",
    "inline_link_clicks",
    "actions",
    "date_start",
    "date_stop",
)
INSIGHTS_BREAKDOWNS: tuple[str, ...] = ("publisher_platform", "platform_position")
ACTION_BREAKDOWNS: tuple[str, ...] = ("action_type",)
MIN_PAGE_LIMIT = 25

ASYNC_DONE = "Job Completed"
ASYNC_FAILED = ("Job Failed", "Job Skipped")


def insights_params(since: date, until: date, limit: int | None = None) -> dict:
    params = {
        "level": "ad",
        "fields": ",".join(INSIGHTS_FIELDS),
        "time_range": {"since": since.isoformat(), "until": until.isoformat()},
        "time_increment": 1,
        "breakdowns": list(INSIGHTS_BREAKDOWNS),
        "action_breakdowns": list(ACTION_BREAKDOWNS),
    }
    if limit is not None:
        params["limit"] = limit
    return params


def split_range(since: date, until: date) -> list[tuple[date, date]]:
    """Two halves of an inclusive date range (a single day cannot be split)."""
    days = (until - since).days + 1
    if days < 2:
        return [(since, until)]
    mid = since + timedelta(days=days // 2 - 1)
    return [(since, mid), (mid + timedelta(days=1), until)]


@dataclass(frozen=True)
class AsyncPolicy:
    threshold_days: int = 31
    poll_seconds: float = 10.0  # the longest wait between two status polls
    timeout_seconds: float = 1800.0
    first_poll_seconds: float = 0.5  # doubled after every poll: small jobs finish in seconds

    def poll_waits(self) -> Iterator[float]:
        wait = min(self.first_poll_seconds, self.poll_seconds)
        while True:
            yield wait
            wait = min(self.poll_seconds, wait * 2)


def async_progress_line(what: str, run_id: str, percent, waited: float) -> str:
    """Meta's percentage of an async job, and the rest estimated at the pace so far."""
    try:
        done = float(percent)
    except (TypeError, ValueError):
        done = 0.0
    line = f"{what}: report run {run_id} at {done:.0f}% after {waited:.0f}s"
    eta = eta_seconds(done, 100.0, waited)
    return line + (f", about {eta:.0f}s left" if eta is not None else "")


class InsightsFetcher:
    def __init__(
        self,
        client: GraphClient,
        *,
        page_limit: int = 500,
        policy: AsyncPolicy = AsyncPolicy(),
        sleep: Callable[[float], None],
        log: LogFn | None = None,
    ):
        self.client, self.page_limit, self.policy = client, page_limit, policy
        self._sleep, self._log_fn = sleep, log

    def _log(self, level: int, message: str) -> None:
        if self._log_fn is not None:
            self._log_fn(level, message)

    def pages(self, account_id: str, since: date, until: date) -> Iterator[list[dict]]:
        """Pages of raw insight rows for an inclusive date range."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        yield from self._range(account_id, since, until)

    def _range(self, account_id: str, since: date, until: date) -> Iterator[list[dict]]:
        days = (until - since).days + 1
        use_async = days > self.policy.threshold_days
        fetch = self._async if use_async else self._sync
        handed_out = False
        failure: MetaApiError | None = None
        try:
            for page in fetch(account_id, since, until):
                handed_out = True
                yield page
            return
        except (MetaReduceDataError, MetaAsyncJobError) as exc:
            if handed_out:
                raise
            failure = exc
        if days == 1 and use_async:
            parts = [(since, until)]  # a one-day async job failed: read that day synchronously
        elif days == 1:
            raise failure
        else:
            parts = split_range(since, until)
        self._log(
            logging.WARNING,
            f"{failure.args[0]}; fetching {account_id} {since}..{until} as {len(parts)} smaller request(s)",
        )
        for part_since, part_until in parts:
            if (part_since, part_until) == (since, until):
                yield from self._sync(account_id, since, until)
            else:
                yield from self._range(account_id, part_since, part_until)

    def _sync(self, account_id: str, since: date, until: date) -> Iterator[list[dict]]:
        path = (account_id, "insights")
        yield from self._paged(path, insights_params(since, until), account_id, since, until, single_day=since == until)

    def _paged(
        self, path: tuple, base_params: dict, account_id: str, since: date, until: date, single_day: bool
    ) -> Iterator[list[dict]]:
        what = f"insights for {account_id} {since}..{until}"
        limit, after, handed_out = self.page_limit, None, False
        while True:
            params = {**base_params, "limit": limit}
            if after:
                params["after"] = after
            try:
                body = self.client.get(path, params, what=what, account=account_id)
            except MetaReduceDataError:
                # Before the first row of a multi-day range the caller splits the range;
                # otherwise ask for the same position again with smaller pages.
                if (not handed_out and not single_day) or limit <= MIN_PAGE_LIMIT:
                    raise
                limit = max(MIN_PAGE_LIMIT, limit // 2)
                self._log(logging.WARNING, f"{what}: Graph asked for less data; page size now {limit}")
                continue
            rows = body.get("data")
            if not isinstance(rows, list):
                # Not "no rows": a page without its data list would make the range look empty,
                # and restating an empty range deletes what was loaded for it.
                raise MetaApiError(
                    f"{what}: Graph answered a page whose 'data' is "
                    f"{'missing' if 'data' not in body else type(rows).__name__}, not a list of "
                    f"rows (keys: {', '.join(sorted(map(str, body))[:10])})",
                    account=account_id,
                )
            if rows:
                handed_out = True
                yield rows
            after = next_cursor(body)
            if after is None:
                return

    def _async(self, account_id: str, since: date, until: date) -> Iterator[list[dict]]:
        what = f"async insights job for {account_id} {since}..{until}"
        created = self.client.post(
            (account_id, "insights"), insights_params(since, until), what=what, account=account_id
        )
        run_id = str(created.get("report_run_id") or "")
        if not run_id:
            raise MetaAsyncJobError(f"{what}: Graph did not return a report_run_id", account=account_id)
        waited, waits, logged_at = 0.0, self.policy.poll_waits(), 0.0
        while True:
            status = self.client.get(
                (run_id,), {"fields": "id,async_status,async_percent_completion"}, what=what, account=account_id
            )
            state = status.get("async_status")
            if state == ASYNC_DONE:
                break
            if waited - logged_at >= PROGRESS_EVERY_SECONDS:
                logged_at = waited
                self._log(
                    logging.INFO, async_progress_line(what, run_id, status.get("async_percent_completion"), waited)
                )
            if state in ASYNC_FAILED:
                raise MetaAsyncJobError(
                    f"{what}: report run {run_id} ended with '{state}' at {status.get('async_percent_completion')}%",
                    account=account_id,
                )
            if waited >= self.policy.timeout_seconds:
                raise MetaAsyncJobError(
                    f"{what}: report run {run_id} not done after {waited:.0f}s (status '{state}')", account=account_id
                )
            wait = next(waits)
            self._sleep(wait)
            waited += wait
        self._log(logging.INFO, f"{what}: report run {run_id} completed")
        yield from self._paged((run_id, "insights"), {}, account_id, since, until, single_day=since == until)
