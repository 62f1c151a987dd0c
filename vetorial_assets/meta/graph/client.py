"""One Graph API connection over the facebook-business SDK: retries, throttling, redaction.

Requests go through `FacebookAdsApi.call()` (the real SDK over HTTP) and come back as
raw JSON: building an SDK object per insight row would cost more than the HTTP itself.
The SDK is never set up with `FacebookAdsApi.init()`, so no global default API and no
crash reporter (which would post tracebacks to Meta) exist.

Every error leaving this module is an `errors.py` exception whose message has been
redacted and that is raised outside the `except` block that caught the SDK/requests
error, so no chained exception (whose text carries the token in a URL) travels with it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError, FacebookRequestError
from facebook_business.session import FacebookSession

from resources.support.gc_control import gc_paused
from resources.support.redaction import redact, redact_obj, register_secret

from .errors import (
    AUTH_CODES,
    PERMISSION_CODES,
    RATE_LIMIT_CODES,
    REDUCE_DATA,
    TRANSIENT_CODES,
    MetaApiError,
    MetaAuthError,
    MetaConnectionError,
    MetaReduceDataError,
)

LogFn = Callable[[int, str], None]
USAGE_HEADERS = ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage", "x-fb-ads-insights-throttle")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 120.0
    jitter: float = 0.5  # fraction of each delay that is randomised

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: between (1 - jitter) and 1 times base * 2^(attempt-1)."""
        full = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return full * (1 - self.jitter) + rng.uniform(0, full * self.jitter)


@dataclass(frozen=True)
class ThrottlePolicy:
    usage_pct: float = 75.0
    min_sleep_seconds: float = 10.0
    max_sleep_seconds: float = 900.0


@dataclass(frozen=True)
class Usage:
    """The highest usage percentage any header reports, and how long Meta says to wait."""

    pct: float = 0.0
    regain_seconds: float = 0.0
    source: str = ""


def _pct_values(entry: dict) -> list[float]:
    keys = ("call_count", "total_cputime", "total_time", "acc_id_util_pct", "app_id_util_pct")
    out = []
    for key in keys:
        try:
            out.append(float(entry[key]))
        except (KeyError, TypeError, ValueError):
            pass
    return out


def parse_usage(headers) -> Usage:
    """Usage headers -> Usage. Unknown or malformed headers count as 0%.

    x-business-use-case-usage: {"<id>": [{"type", "call_count", "total_cputime", "total_time",
    "estimated_time_to_regain_access" (minutes)}]}; x-ad-account-usage: {"acc_id_util_pct",
    "reset_time_duration" (seconds)}; x-app-usage: {"call_count", "total_cputime", "total_time"}.
    """
    best = Usage()
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}  # Graph's header case varies
    for name in USAGE_HEADERS:
        raw = lowered.get(name)
        if not raw:
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        entries: list[tuple[dict, float]] = []
        if name == "x-business-use-case-usage" and isinstance(doc, dict):
            for items in doc.values():
                for item in items if isinstance(items, list) else []:
                    if isinstance(item, dict):
                        regain = float(item.get("estimated_time_to_regain_access") or 0) * 60
                        entries.append((item, regain))
        elif isinstance(doc, dict):
            reset = float(doc.get("reset_time_duration") or 0) if name == "x-ad-account-usage" else 0.0
            entries.append((doc, reset))
        for entry, regain in entries:
            pct = max(_pct_values(entry), default=0.0)
            if pct > best.pct or (pct == best.pct and regain > best.regain_seconds):
                best = Usage(pct, regain, name)
            elif regain > best.regain_seconds and pct >= best.pct:
                best = Usage(best.pct, regain, best.source)
    return best


class PageRows(list):
    """A page's `data` rows (parsed), plus `texts`: each row's JSON exactly as Graph sent it.

    Raw landing stores and hashes that text instead of serializing every row once more.
    """

    __slots__ = ("texts",)

    def __init__(self, rows: list, texts: list[str]):
        super().__init__(rows)
        self.texts = texts


_decoder = json.JSONDecoder()
_DATA_FIRST = re.compile(r'\s*\{\s*"data"\s*:\s*\[\s*')
_SPACE = re.compile(r"\s*")


def loads_page(text: str):
    """json.loads(text), except that a leading `data` array comes back as PageRows.

    Graph puts `data` first in every list response. Each row is decoded on its own (the
    same C scanner json.loads uses), so its exact text is a free slice. Anything
    unexpected falls back to plain json.loads, which then raises as usual.
    """
    head = _DATA_FIRST.match(text)
    if head is None:
        return json.loads(text)
    try:
        rows, texts, pos = _data_rows(text, head.end())
        pos = _SPACE.match(text, pos).end()
        if text.startswith("}", pos):
            rest = {} if not text[pos + 1 :].strip() else None  # '{"data":[...]}' and nothing after
        elif text.startswith(",", pos):
            rest = json.loads("{" + text[pos + 1 :])
        else:
            rest = None
    except ValueError:
        rest = None
    if not isinstance(rest, dict) or "data" in rest:
        return json.loads(text)
    return {"data": PageRows(rows, texts), **rest}


def _data_rows(text: str, pos: int) -> tuple[list, list[str], int]:
    """Rows of the array starting at `pos` (just after '['), their texts, and the index after ']'."""
    decode, rows, texts = _decoder.raw_decode, [], []
    if text.startswith("]", pos):
        return rows, texts, pos + 1
    while True:
        row, end = decode(text, pos)
        rows.append(row)
        texts.append(text[pos:end])
        sep = text[end : end + 1]
        if sep not in (",", "]"):  # whitespace between items: Graph sends none, but allow it
            end = _SPACE.match(text, end).end()
            sep = text[end : end + 1]
        if sep == "]":
            return rows, texts, end + 1
        if sep != ",":
            raise ValueError("expected ',' or ']' in the data array")
        pos = end + 1
        if text[pos : pos + 1].isspace():
            pos = _SPACE.match(text, pos).end()


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GraphClient:
    """Calls Graph for one token. Not thread-safe: one per thread/iteration."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        api_version: str,
        timeout: float = 120.0,
        retry: RetryPolicy = RetryPolicy(),
        throttle: ThrottlePolicy = ThrottlePolicy(),
        sleep: Callable[[float], None] = time.sleep,
        log: LogFn | None = None,
        rng: random.Random | None = None,
    ):
        register_secret(token)
        self._token = token
        session = FacebookSession(access_token=token, timeout=timeout)
        session.GRAPH = base_url.rstrip("/")
        if is_loopback(base_url):
            # Never send sandbox traffic through a proxy from the environment.
            session.requests.trust_env = False
        self._api = FacebookAdsApi(session, api_version=api_version)
        self.retry, self.throttle = retry, throttle
        self._sleep, self._log_fn = sleep, log
        self._rng = rng or random.Random()
        self.requests_made = 0
        self.last_usage = Usage()

    # ---- logging / sleeping ------------------------------------------------------------
    def _log(self, level: int, message: str) -> None:
        if self._log_fn is not None:
            self._log_fn(level, redact(message, [self._token]))

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    # ---- calls -------------------------------------------------------------------------
    def get(self, path: tuple, params: dict | None = None, *, what: str, account: str | None = None) -> dict:
        return self._call("GET", path, params or {}, what, account)

    def post(self, path: tuple, params: dict | None = None, *, what: str, account: str | None = None) -> dict:
        return self._call("POST", path, params or {}, what, account)

    def iter_pages(self, path: tuple, params: dict, *, what: str, account: str | None = None) -> Iterator[dict]:
        """Each page body of a cursor-paged edge, following `paging.cursors.after` like the SDK's Cursor."""
        after = None
        while True:
            page_params = dict(params)
            if after:
                page_params["after"] = after
            body = self.get(path, page_params, what=what, account=account)
            yield body
            after = next_cursor(body)
            if after is None:
                return

    def _call(self, method: str, path: tuple, params: dict, what: str, account: str | None) -> dict:
        attempt = 0
        while True:
            attempt += 1
            body, error, headers = self._attempt(method, path, params, what, account)
            usage = parse_usage(headers)
            self.last_usage = usage
            if error is None:
                self._throttle(usage, what)
                return body
            if not error.transient or attempt > self.retry.max_retries:
                if error.transient:
                    error.args = (f"{error.args[0]} (gave up after {attempt} attempts)",)
                raise error
            wait = self.retry.delay(attempt, self._rng)
            if error.code in RATE_LIMIT_CODES and usage.regain_seconds:
                # Meta says when the bucket refills; retrying earlier only extends the block.
                wait = max(wait, min(usage.regain_seconds, self.throttle.max_sleep_seconds))
            self._log(logging.WARNING, f"{error.args[0]}; retry {attempt}/{self.retry.max_retries} in {wait:.1f}s")
            self._wait(wait)

    def _attempt(
        self, method: str, path: tuple, params: dict, what: str, account: str | None
    ) -> tuple[dict | None, MetaApiError | None, dict]:
        """One HTTP exchange -> (body, None, headers) or (None, error, headers)."""
        self.requests_made += 1
        with gc_paused():  # the SDK parses the body once (to check for an error), we once more
            return self._exchange(method, path, params, what, account)

    def _exchange(
        self, method: str, path: tuple, params: dict, what: str, account: str | None
    ) -> tuple[dict | None, MetaApiError | None, dict]:
        try:
            response = self._api.call(method, path, params=params)
        except FacebookRequestError as exc:
            return None, self._api_error(exc, what, account), dict(exc.http_headers() or {})
        except requests.RequestException as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", [self._token])
            return (
                None,
                MetaConnectionError(f"{what}: could not reach Graph ({detail})", transient=True, account=account),
                {},
            )
        except FacebookError as exc:
            return None, MetaApiError(redact(f"{what}: {exc}", [self._token]), account=account), {}
        headers = dict(response.headers() or {})
        status = response.status() or 0
        text = response.body()
        # The SDK treats any non-JSON 2xx-5xx page without 'Service Unavailable' in it as a
        # success (e.g. a proxy's 502 page): check the status ourselves.
        if status >= 400:
            return (
                None,
                MetaConnectionError(
                    f"{what}: Graph answered HTTP {status} without an error document",
                    http_status=status,
                    transient=status >= 500 or status == 429,
                    account=account,
                ),
                headers,
            )
        try:
            body = loads_page(text)
        except (TypeError, ValueError):
            body = None
        if not isinstance(body, dict):
            return (
                None,
                MetaConnectionError(
                    f"{what}: Graph answered HTTP {status} with a body that is not a JSON object",
                    http_status=status,
                    transient=True,
                    account=account,
                ),
                headers,
            )
        return self._scrub(body, text), None, headers

    def _scrub(self, body: dict, text: str) -> dict:
        """Remove the token from a response: Graph echoes it in paging links, never in data."""
        token = self._token
        paging_at = text.rfind('"paging"')
        data_part = text if paging_at < 0 else text[:paging_at]
        if token in data_part:
            return redact_obj(body, [token])
        if paging_at >= 0 and "paging" in body:
            body["paging"] = redact_obj(body["paging"], [token])
        return body

    def _api_error(self, exc: FacebookRequestError, what: str, account: str | None) -> MetaApiError:
        code, subcode = exc.api_error_code(), exc.api_error_subcode()
        status = exc.http_status()
        body = exc.body() if isinstance(exc.body(), dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        trace = error.get("fbtrace_id")
        graph_msg = exc.api_error_message() or (str(exc.body())[:200] if exc.body() else "no error document")
        ids = [f"code {code}"] if code is not None else []  # a proxy's error document has no code
        ids += [f"subcode {subcode}"] if subcode else []
        ids += [f"fbtrace_id {trace}"] if trace else []
        base = f"{what}: Graph error ({', '.join([*ids, f'HTTP {status}'])}): {graph_msg}"
        kwargs = dict(code=code, subcode=subcode, fbtrace_id=trace, http_status=status, account=account)
        if code in AUTH_CODES:
            return MetaAuthError(
                redact(base + " - the access token is invalid or expired: renew it", [self._token]), **kwargs
            )
        if code in PERMISSION_CODES:
            return MetaAuthError(
                redact(
                    base + " - the token lacks a permission (ads_read / ads_management / "
                    "instagram_manage_insights) for this object",
                    [self._token],
                ),
                **kwargs,
            )
        if (code, subcode) == REDUCE_DATA:
            return MetaReduceDataError(redact(base, [self._token]), **kwargs)
        transient = code in TRANSIENT_CODES or bool(exc.api_transient_error()) or (code is None and status >= 500)
        if code is None and not transient:
            return MetaConnectionError(
                redact(base, [self._token]), transient=status in (429,) or status >= 500, **kwargs
            )
        return MetaApiError(redact(base, [self._token]), transient=transient, **kwargs)

    def _throttle(self, usage: Usage, what: str) -> None:
        if usage.pct < self.throttle.usage_pct:
            return
        wait = min(self.throttle.max_sleep_seconds, max(usage.regain_seconds, self.throttle.min_sleep_seconds))
        self._log(
            logging.WARNING,
            f"{what}: Graph usage at {usage.pct:.0f}% ({usage.source}) >= "
            f"{self.throttle.usage_pct:.0f}%; pausing {wait:.1f}s",
        )
        self._wait(wait)


def next_cursor(body: dict) -> str | None:
    """The `after` cursor when Graph says there is a next page (cursors exist even on the last page)."""
    paging = body.get("paging") or {}
    after = (paging.get("cursors") or {}).get("after")
    return after if after and paging.get("next") else None
