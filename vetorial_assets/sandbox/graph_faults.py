"""Switchable failures and usage headers for the sandbox Graph API.

Tests arm a fault (`api.faults.add(code=17, times=2, path_contains="insights")`); the
server consumes it on the next matching request and answers the way Graph does: an
error JSON with code / error_subcode / is_transient / fbtrace_id (HTTP 400 for API
errors), a bare 5xx, a slow answer, or an async report job that ends in "Job Failed";
or, below HTTP, any body text given (`body=`: a proxy's page, a truncated JSON document)
the real answer cut after some bytes, the connection closed (`disconnect_after=`), or sent
with a header line clients cannot parse (`malformed_header=True`).
A held fault (`hold=True`) keeps the request waiting until the test calls `release()`
(`reached` tells it the request arrived): a client stuck on the network, for as long as
the test needs, with no timing in the test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# (message, type, default subcode, is_transient) per Graph error code, worded like Meta's.
_ERRORS: dict[int, tuple[str, str, int | None, bool]] = {
    1: ("An unknown error occurred", "OAuthException", None, True),
    2: ("An unexpected error has occurred. Please retry your request later.", "OAuthException", None, True),
    4: ("(#4) Application request limit reached", "OAuthException", None, True),
    10: ("(#10) Application does not have permission for this action", "OAuthException", None, False),
    17: ("(#17) User request limit reached", "OAuthException", 2446079, True),
    32: ("(#32) Page request limit reached", "OAuthException", None, True),
    100: ("(#100) Invalid parameter", "OAuthException", None, False),
    104: ("An access token is required to request this resource.", "OAuthException", None, False),
    190: ("Invalid OAuth access token - Cannot parse access token", "OAuthException", None, False),
    200: ("(#200) Ad account owner has NOT grant ads_management or ads_read permission", "OAuthException", None, False),
    341: ("(#341) Application limit reached", "OAuthException", None, True),
    613: ("(#613) Calls to this api have exceeded the rate limit.", "OAuthException", 1487742, True),
}
_REDUCE_DATA = "Please reduce the amount of data you're asking for, then retry your request"
_BUC_MESSAGE = (
    "There have been too many calls from this ad-account. Wait a bit and try again. "
    "For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management."
)


def error_body(
    code: int,
    subcode: int | None = None,
    message: str | None = None,
    fbtrace_id: str = "AsandboxTRACE",
    is_transient: bool | None = None,
) -> dict:
    """The `{"error": {...}}` document Graph returns for an error code."""
    if code == 100 and subcode == 1487534:
        default = (_REDUCE_DATA, "OAuthException", 1487534, False)
    elif 80000 <= code <= 80014:
        default = (f"(#{code}) {_BUC_MESSAGE}", "OAuthException", None, True)
    else:
        default = _ERRORS.get(code, (f"(#{code}) Sandbox error", "OAuthException", None, False))
    text, kind, default_sub, transient = default
    error = {
        "message": message or text,
        "type": kind,
        "code": code,
        "is_transient": transient if is_transient is None else is_transient,
        "fbtrace_id": fbtrace_id,
    }
    if (subcode if subcode is not None else default_sub) is not None:
        error["error_subcode"] = subcode if subcode is not None else default_sub
    return {"error": error}


@dataclass
class Fault:
    """One armed failure. `times=None` means every matching request, forever."""

    code: int | None = None
    subcode: int | None = None
    http_status: int | None = None
    delay: float = 0.0
    async_fail: bool = False
    times: int | None = 1
    path_contains: str | None = None
    method: str | None = None
    message: str | None = None
    # Usage headers sent with the error (rate-limit errors come with a full bucket).
    regain_minutes: int | None = None
    # Let this many matching requests through first (e.g. fail the second page only).
    skip: int = 0
    # Answer this text as is (with http_status, default 200) instead of a JSON error document.
    body: str | None = None
    # Send the real answer's headers and only this many bytes of its body, then hang up.
    disconnect_after: int | None = None
    # Send the real answer with a header line HTTP clients cannot parse among its headers
    # (urllib3 then warns, printing the request's URL).
    malformed_header: bool = False
    # Keep the request waiting until release() (then answer as the other fields say).
    hold: bool = False
    hits: int = 0
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event, repr=False)
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    def release(self) -> None:
        """Let held requests (and later ones this fault takes) be answered."""
        self.released.set()

    def wait_if_held(self, limit_seconds: float = 120.0) -> None:
        """Called by the server for a request this fault took: a held one waits for
        release() (at most `limit_seconds`, so a failed test cannot hang the server)."""
        if self.hold:
            self.reached.set()
            self.released.wait(limit_seconds)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != method:
            return False
        return not self.path_contains or self.path_contains in path

    @property
    def is_error(self) -> bool:
        """Answered instead of the real page (a disconnect cuts the real page)."""
        return self.code is not None or self.http_status is not None or self.body is not None


class FaultPlan:
    """The armed faults; thread-safe because the server answers on many threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        code: int | None = None,
        *,
        subcode: int | None = None,
        http_status: int | None = None,
        delay: float = 0.0,
        async_fail: bool = False,
        times: int | None = 1,
        path_contains: str | None = None,
        method: str | None = None,
        message: str | None = None,
        regain_minutes: int | None = None,
        skip: int = 0,
        body: str | None = None,
        disconnect_after: int | None = None,
        malformed_header: bool = False,
        hold: bool = False,
    ) -> Fault:
        if (
            code is None
            and http_status is None
            and not delay
            and not async_fail
            and body is None
            and disconnect_after is None
            and not malformed_header
            and not hold
        ):
            raise ValueError(
                "a fault needs a code, an http_status, a delay, a body, disconnect_after, "
                "malformed_header=True, hold=True or async_fail=True"
            )
        fault = Fault(
            code=code,
            subcode=subcode,
            http_status=http_status,
            delay=delay,
            async_fail=async_fail,
            times=times,
            path_contains=path_contains,
            method=method,
            message=message,
            regain_minutes=regain_minutes,
            skip=skip,
            body=body,
            disconnect_after=disconnect_after,
            malformed_header=malformed_header,
            hold=hold,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, *, async_create: bool = False) -> Fault | None:
        """Consume the first matching fault. Async-failure faults only fire on job creation."""
        with self._lock:
            for fault in self._faults:
                if fault.async_fail != async_create:
                    continue
                if fault.matches(method, path):
                    fault.seen += 1
                    if fault.seen <= fault.skip:
                        continue
                    fault.hits += 1
                    return fault
        return None

    def __len__(self) -> int:
        return len(self._faults)


@dataclass
class UsageState:
    """Percentages the usage headers report. `set()` raises them for the next `times` responses."""

    base_pct: int = 3
    pct: int = 3
    regain_minutes: int = 0
    times: int | None = None
    _served: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, pct: int, regain_minutes: int = 0, times: int | None = None) -> None:
        with self._lock:
            self.pct, self.regain_minutes, self.times, self._served = pct, regain_minutes, times, 0

    def reset(self) -> None:
        self.set(self.base_pct, 0, None)

    def next_values(self) -> tuple[int, int]:
        with self._lock:
            if self.times is not None and self._served >= self.times:
                self.pct, self.regain_minutes, self.times = self.base_pct, 0, None
            self._served += 1
            return self.pct, self.regain_minutes
