"""Which days of an API-pulled account need pulling again (a pure rule: no I/O).

A day's numbers can still change for a while after it ends (Meta: its attribution window;
Instagram: up to 48 h late). A day pulled after that is settled: pulling it again returns the
same rows. A day still open was pulled at some time; pulling it again before the source's own
refresh cadence has passed (the schedule's) learns nothing the schedule would not learn at its
next tick. `vetorial demo` plans its range runs with this rule, so running it again when nothing
changed pulls nothing; the schedules and explicit materializations always pull what they ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class RepullRule:
    # A pull made on the local date `day + settle_days` or later is final (the schedule pulls
    # the day for the last time at that age).
    settle_days: int
    # An open day pulled less than this long ago is left to the schedule (its cadence).
    refresh_every: timedelta


def settled_at(day: date, rule: RepullRule, tz: ZoneInfo) -> datetime:
    """The moment from which a pull of `day` is final: the local midnight starting `day + settle_days`."""
    return datetime.combine(day + timedelta(days=rule.settle_days), time(), tzinfo=tz)


def needs_pull(day: date, last_pull: datetime | None, now: datetime, rule: RepullRule, tz: ZoneInfo) -> bool:
    """Never pulled; or pulled before it settled and not within `refresh_every`."""
    if last_pull is None:
        return True
    if last_pull >= settled_at(day, rule, tz):
        return False
    return now - last_pull >= rule.refresh_every


def days_to_pull(
    days: Sequence[date], last_pulls: Mapping[date, datetime], now: datetime, rule: RepullRule, tz: ZoneInfo
) -> list[tuple[date, date]]:
    """The days of `days` (ascending) that need a pull, as contiguous (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if not needs_pull(day, last_pulls.get(day), now, rule, tz):
            continue
        if ranges and ranges[-1][1] == day - timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
