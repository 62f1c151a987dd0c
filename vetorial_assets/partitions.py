"""Partitions: calendar days in the accounts' time zone, crossed with accounts or tenants."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
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
IG_ACCOUNT_DIM = "ig_account"


def daily(start: date) -> DailyPartitionsDefinition:
    # end_offset=1: today is a partition too; Meta's spend for today grows through the day.
    return DailyPartitionsDefinition(start_date=start.isoformat(), timezone=DEFAULT_TIMEZONE, end_offset=1)


def date_by_account(start: date, accounts: Sequence[str], account_dim: str = ACCOUNT_DIM) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition({DATE_DIM: daily(start), account_dim: StaticPartitionsDefinition(list(accounts))})


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


def date_ranges(keys: Sequence[str], account_dim: str = ACCOUNT_DIM) -> list[DateRange]:
    """Group date x account partition keys into contiguous date ranges per account.

    A single-run backfill hands one run many keys; one API range per account is far
    cheaper than one request per day.
    """
    days: dict[str, list[date]] = defaultdict(list)
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, MultiPartitionKey) else _split(key, account_dim)
        days[dims[account_dim]].append(date.fromisoformat(dims[DATE_DIM]))
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


def _split(key: str, account_dim: str) -> dict[str, str]:
    # MultiPartitionKey strings join dimension values in dimension-name order.
    names = sorted([DATE_DIM, account_dim])
    return dict(zip(names, str(key).split("|")))


def run_date_ranges(context: AssetExecutionContext, account_dim: str = ACCOUNT_DIM) -> list[DateRange]:
    return date_ranges(context.partition_keys, account_dim)


def range_tags(account_dim: str, account: str, first: str, last: str) -> dict[str, str]:
    """Run tags for one account's date range: what a single-run backfill of it launches."""
    return {
        "dagster/asset_partition_range_start": str(MultiPartitionKey({DATE_DIM: first, account_dim: account})),
        "dagster/asset_partition_range_end": str(MultiPartitionKey({DATE_DIM: last, account_dim: account})),
    }
