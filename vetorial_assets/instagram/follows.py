"""The Instagram `follows_and_unfollows` insight -> follows, unfollows and net (pure, no I/O).

Request: GET /{ig_user_id}/insights?metric=follows_and_unfollows&period=day
&metric_type=total_value&breakdown=follow_type&since=..&until=.. (one day). Response:

    {"data": [{"name": "follows_and_unfollows", "period": "day",
               "total_value": {"value": 12, "breakdowns": [{
                   "dimension_keys": ["follow_type"],
                   "results": [{"dimension_values": ["FOLLOWER"], "value": 9},
                               {"dimension_values": ["NON_FOLLOWER"], "value": 3}]}]},
               "id": "..."}]}

FOLLOWER = accounts that followed (gained), NON_FOLLOWER = accounts that unfollowed or
left Instagram (lost), UNKNOWN = neither; why, in docs/business-rules.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

METRIC = "follows_and_unfollows"
BREAKDOWN = "follow_type"
GAINED = "FOLLOWER"
LOST = "NON_FOLLOWER"
UNKNOWN = "UNKNOWN"
_FOLLOW_TYPES = (GAINED, LOST, UNKNOWN)
# raw.ig_follows stores counts as bigint; a float count is exact only below 2^53.
MAX_COUNT = 2**63 - 1
_MAX_FLOAT_COUNT = 2**53
# A count as text: decimal digits only (int() would also take "1_000" and other scripts' digits).
_DIGITS = re.compile(r"\s*[0-9]+\s*")


@dataclass(frozen=True)
class FollowsDay:
    follows: int
    unfollows: int
    net: int
    # Accounts Meta could not classify: kept for audit, in neither follows nor unfollows,
    # and left out of equality so FollowsDay(9, 3, 6) compares as callers expect.
    unknown: int = field(default=0, compare=False)


def parse_follows(response: dict) -> FollowsDay | None:
    """One day's follows/unfollows, or None when Meta has no data for the day.

    Meta answers an empty `data` list (not zeros) for accounts under 100 followers and for
    days not available yet (data can lag 48 h): that is "no data", to be retried, never 0.
    Any other shape Meta is not documented to send raises ValueError saying what is wrong.
    """
    if not isinstance(response, dict):
        raise ValueError(f"{METRIC}: expected a JSON object, got {type(response).__name__}")
    if "error" in response:
        # Graph errors belong to the client; reaching here means it let one through.
        error = response["error"] if isinstance(response["error"], dict) else {}
        raise ValueError(f"{METRIC}: response is a Graph API error (code {error.get('code')!r}), not data")
    if "data" not in response:
        raise ValueError(f"{METRIC}: response has no 'data' list (keys: {sorted(response)})")
    data = response["data"]
    if not isinstance(data, list):
        raise ValueError(f"{METRIC}: 'data' must be a list, got {type(data).__name__}")
    if not data:
        return None
    entry = _the_metric(data)
    total = entry.get("total_value")
    if not isinstance(total, dict):
        raise ValueError(f"{METRIC}: no 'total_value' object; was the request made with metric_type=total_value?")
    counts = _follow_type_counts(total)
    follows, unfollows = counts[GAINED], counts[LOST]
    return FollowsDay(follows=follows, unfollows=unfollows, net=follows - unfollows, unknown=counts[UNKNOWN])


def _the_metric(data: list) -> dict:
    entries = [e for e in data if isinstance(e, dict) and e.get("name", METRIC) == METRIC]
    if not entries:
        names = [e.get("name") if isinstance(e, dict) else type(e).__name__ for e in data]
        raise ValueError(f"{METRIC}: 'data' holds no {METRIC} entry (found {names})")
    if len(entries) > 1:
        # One day, one total: several entries mean the request spanned more than we asked.
        raise ValueError(f"{METRIC}: expected one entry for the day, got {len(entries)}")
    return entries[0]


def _follow_type_counts(total: dict) -> dict[str, int]:
    counts = dict.fromkeys(_FOLLOW_TYPES, 0)
    breakdowns = total.get("breakdowns")
    if not breakdowns:
        # Without the split, a zero total is still unambiguous; anything else is not.
        if "value" in total and _count(total["value"], "total_value.value") == 0:
            return counts
        raise ValueError(
            f"{METRIC}: total_value has no 'breakdowns' to split follows from unfollows; "
            "was the request made with breakdown=follow_type?"
        )
    if not isinstance(breakdowns, list):
        raise ValueError(f"{METRIC}: 'breakdowns' must be a list, got {type(breakdowns).__name__}")
    breakdown = _the_breakdown(breakdowns)
    results = breakdown.get("results")
    if not isinstance(results, list):
        raise ValueError(f"{METRIC}: the {BREAKDOWN} breakdown has no 'results' list")
    position = breakdown["dimension_keys"].index(BREAKDOWN)
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise ValueError(f"{METRIC}: each result must be an object, got {type(result).__name__}")
        values = result.get("dimension_values")
        if not isinstance(values, list) or len(values) <= position:
            raise ValueError(f"{METRIC}: result without a {BREAKDOWN} dimension value: {result!r}")
        kind = values[position]
        if not isinstance(kind, str) or kind not in counts:
            # A new follow_type would change what "gained" and "lost" mean: stop, don't guess.
            raise ValueError(f"{METRIC}: unknown {BREAKDOWN} {kind!r} (known: {list(_FOLLOW_TYPES)})")
        if kind in seen:
            raise ValueError(f"{METRIC}: {BREAKDOWN} {kind!r} appears more than once")
        seen.add(kind)
        counts[kind] = _count(result.get("value"), f"{BREAKDOWN} {kind}")
    return counts


def _the_breakdown(breakdowns: list) -> dict:
    matching = [
        b
        for b in breakdowns
        if isinstance(b, dict) and isinstance(b.get("dimension_keys"), list) and BREAKDOWN in b["dimension_keys"]
    ]
    if not matching:
        keys = [b.get("dimension_keys") if isinstance(b, dict) else None for b in breakdowns]
        raise ValueError(f"{METRIC}: no breakdown by {BREAKDOWN} (dimension_keys: {keys})")
    if len(matching) > 1:
        raise ValueError(f"{METRIC}: {len(matching)} breakdowns by {BREAKDOWN}, expected one")
    return matching[0]


def _count(value: Any, what: str) -> int:
    # Counts of accounts: whole and non-negative. JSON gives ints; numeric strings are
    # tolerated, anything else is a malformed response rather than a zero.
    if isinstance(value, bool):
        raise ValueError(f"{METRIC}: {what} is not a count: {value!r}")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError(f"{METRIC}: {what} is not a count: {_shown(value)}")
        if len(value.strip().lstrip("0")) > len(str(MAX_COUNT)):  # int() refuses 4,300 digits and more
            raise ValueError(f"{METRIC}: {what} is {_shown(value)}, more than a count can be (2^63 - 1)")
        value = int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < _MAX_FLOAT_COUNT:
        value = int(value)  # a larger float is no exact count
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{METRIC}: {what} is not a non-negative count: {_shown(value)}")
    if value > MAX_COUNT:
        raise ValueError(f"{METRIC}: {what} is {_shown(value)}, more than a count can be (2^63 - 1)")
    return value


def _shown(value: Any, limit: int = 60) -> str:
    big = isinstance(value, int) and value.bit_length() > 3 * limit  # str() of 4,300+ digits raises
    text = f"a number of about {int(value.bit_length() * 0.30103)} digits" if big else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
