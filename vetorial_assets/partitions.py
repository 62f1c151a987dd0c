"""Partitions: calendar days in the accounts' time zone, crossed with accounts or tenants.

Every date x account asset (Meta ad accounts, Instagram accounts) names its dimensions
`account` and `date`. Dagster joins a multi-partition key's values in alphabetical order of
the dimension names, so every such key reads `<account>|<YYYY-MM-DD>`, e.g.
`act_100000000000001|2026-03-10` and `17841400000000001|2026-03-10`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from .settings import DEFAULT_TIMEZONE

DATE_DIM = "date"
ACCOUNT_DIM = "account"


def daily(start: date) -> DailyPartitionsDefinition:
    # end_offset=1: today is a partition too; Meta's spend for today grows through the day.
    return DailyPartitionsDefinition(start_date=start.isoformat(), timezone=DEFAULT_TIMEZONE, end_offset=1)


def date_by_account(start: date, accounts: Sequence[str]) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition({DATE_DIM: daily(start), ACCOUNT_DIM: StaticPartitionsDefinition(list(accounts))})


def by_tenant(tenant_ids: Sequence[str]) -> StaticPartitionsDefinition:
    return StaticPartitionsDefinition(list(tenant_ids))


@dataclass(frozen=True)
class DateRange:
    account: str
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def date_ranges(keys: Sequence[str]) -> list[DateRange]:
    """Group date x account partition keys into contiguous date ranges per account.

    A single-run backfill hands one run many keys; one API range per account is far
    cheaper than one request per day.
    """
    days: dict[str, list[date]] = defaultdict(list)
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, MultiPartitionKey) else _split(key)
        days[dims[ACCOUNT_DIM]].append(date.fromisoformat(dims[DATE_DIM]))
    ranges = []
    for account in sorted(days):
        ordered = sorted(set(days[account]))
        first = prev = ordered[0]
        for day in ordered[1:]:
            if day != prev + timedelta(days=1):
                ranges.append(DateRange(account, first, prev))
                first = day
            prev = day
        ranges.append(DateRange(account, first, prev))
    return ranges


def _split(key: str) -> dict[str, str]:
    # MultiPartitionKey strings join dimension values in dimension-name order.
    names = sorted([DATE_DIM, ACCOUNT_DIM])
    return dict(zip(names, str(key).split("|")))


def run_date_ranges(context: AssetExecutionContext) -> list[DateRange]:
    return date_ranges(context.partition_keys)


def partition_key(account: str, day: str) -> str:
    """The key of one account-day: `<account>|<YYYY-MM-DD>`."""
    return str(MultiPartitionKey({DATE_DIM: day, ACCOUNT_DIM: account}))


PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def tagged_date_ranges(tags: Mapping[str, str]) -> list[DateRange] | None:
    """The account range a run covers, from its tags (one partition, or a single-run
    backfill's range of one account); None when the tags name no such range."""
    if PARTITION_TAG in tags:
        return date_ranges([tags[PARTITION_TAG]])
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not (start and end):
        return None
    first, last = _split(start), _split(end)
    if first[ACCOUNT_DIM] != last[ACCOUNT_DIM]:
        return None
    return [DateRange(first[ACCOUNT_DIM], date.fromisoformat(first[DATE_DIM]), date.fromisoformat(last[DATE_DIM]))]


def range_tags(account: str, first: str, last: str) -> dict[str, str]:
    """Run tags for one account's date range: what a single-run backfill of it launches."""
    return {RANGE_START_TAG: partition_key(account, first), RANGE_END_TAG: partition_key(account, last)}
