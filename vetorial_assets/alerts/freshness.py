"""The freshness sensor: a source asset whose newest partition is stale gets a refresh run.

Judged on the NEWEST partition's own materialization, never on the asset's last
materialization of any partition: a backfill of old days does not make today look fresh.
- date x account assets: per account, the newest day (the last key of the date dimension
  by the clock, less the asset's `vetorial/freshness_day_offset` metadata for sources that
  load yesterday at the newest: Instagram); a newest day not materialized yet is as old as
  the last materialization of the day before it (only that day: not any older one);
- tenant (static) partitions: each tenant;
- unpartitioned: the asset.

States: `fresh`, `warn` (older than the policy's warn_window) and `stale` (older than its
fail_window). A stale (asset, partition):
- gets one refresh run (a RunRequest for it, the stale assets of the same partition and op
  together) and no other one before a whole fail_window has passed (the cursor keeps when);
- is announced once (red), and its return to fresh once (green), through Discord.
After an outage every source is stale at once: that is one request per (asset, newest
partition), at most MAX_REQUESTS_PER_TICK a tick (the rest the next tick), and the alerts of
a tick go out as a few embeds and one summary (notify.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    MultiPartitionsDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    sensor,
)
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._time import get_current_datetime

from resources.discord import GREEN, RED, Alert, DiscordNotifier

from ..partitions import ACCOUNT_DIM, DATE_DIM
from .links import asset_url
from .notify import send_alerts

SENSOR_NAME = "freshness_refresh"
DAY_OFFSET_METADATA = "vetorial/freshness_day_offset"
MAX_REQUESTS_PER_TICK = 10
FRESH, WARN, STALE = "fresh", "warn", "stale"
TRIGGER_TAG = "vetorial/trigger"


@dataclass(frozen=True)
class Judged:
    key: AssetKey
    partition: str | None
    state: str
    age: timedelta
    last_materialized: datetime | None
    fail_window: timedelta

    @property
    def cursor_id(self) -> str:
        return f"{self.key.to_user_string()}|{self.partition or ''}"


def state_of(age: timedelta, policy: TimeWindowFreshnessPolicy) -> str:
    if age > policy.fail_window.to_timedelta():
        return STALE
    if policy.warn_window is not None and age > policy.warn_window.to_timedelta():
        return WARN
    return FRESH


def newest_partitions(partitions_def, day_offset: int, now: datetime) -> list[tuple[str | None, str | None]]:
    """(partition key, the partition before it or None) of each newest partition of an asset."""
    if partitions_def is None:
        return [(None, None)]
    if isinstance(partitions_def, StaticPartitionsDefinition):
        return [(key, None) for key in partitions_def.get_partition_keys()]
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        days = _newest_days(partitions_def, day_offset, now)
        return [days] if days else []
    if isinstance(partitions_def, MultiPartitionsDefinition):
        dims = {d.name: d.partitions_def for d in partitions_def.partitions_defs}
        days = _newest_days(dims[DATE_DIM], day_offset, now)
        if not days:
            return []

        def key(account: str, day: str | None) -> str | None:
            return None if day is None else str(partitions_def.get_partition_key_from_str(f"{account}|{day}"))

        return [(key(account, days[0]), key(account, days[1])) for account in dims[ACCOUNT_DIM].get_partition_keys()]
    return []


def _newest_days(days: TimeWindowPartitionsDefinition, offset: int, now: datetime):
    with partition_loading_context(effective_dt=now):
        key = days.get_last_partition_key()
    for _ in range(offset):
        key = _previous_day(days, key)
    return (key, _previous_day(days, key)) if key else None


def _previous_day(days: TimeWindowPartitionsDefinition, key: str | None) -> str | None:
    if key is None:
        return None
    began = days.time_window_for_partition_key(key).start.timestamp()
    return None if began <= days.start.timestamp() else days.get_partition_key_for_timestamp(began - 1)


def last_materialized(instance, key: AssetKey, partition: str | None) -> datetime | None:
    """When THIS partition last materialized (not any partition of the asset)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    return datetime.fromtimestamp(records[0].timestamp, tz=now_utc().tzinfo) if records else None


def now_utc() -> datetime:
    # Dagster's clock: its test utilities (freeze_time) move it.
    return get_current_datetime()


def judge(graph, instance, now: datetime) -> Iterator[Judged]:
    """Every newest partition of every asset with a time-window freshness policy, judged. An
    asset never materialized at all is not judged: it has not started (a new deployment's
    schedules and backfills load it), which is not the same as having stopped."""
    for node in graph.asset_nodes:
        policy = node.freshness_policy
        if not isinstance(policy, TimeWindowFreshnessPolicy) or not node.is_materializable:
            continue
        if instance.get_latest_materialization_event(node.key) is None:
            continue
        offset = int(node.metadata.get(DAY_OFFSET_METADATA, 0) or 0)
        for partition, before in newest_partitions(node.partitions_def, offset, now):
            when = last_materialized(instance, node.key, partition)
            # A newest day not loaded yet (it began a moment ago, or the loads stopped): the
            # data is as old as the last load of the day before. Never anything: stale.
            since = when or (last_materialized(instance, node.key, before) if before else None)
            age = now - since if since is not None else timedelta.max
            yield Judged(node.key, partition, state_of(age, policy), age, when, policy.fail_window.to_timedelta())


def evaluate(context, discord: DiscordNotifier, job_names: Sequence[str], now: datetime | None = None) -> SensorResult:
    now = now or now_utc()
    job_of = {
        key: name for name in job_names for key in context.repository_def.get_job(name).asset_layer.selected_asset_keys
    }
    cursor: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
    graph = context.repository_def.asset_graph
    due, turned_stale, recovered, kept = [], [], [], {}
    for judged in judge(context.repository_def.asset_graph, context.instance, now):
        if judged.key not in job_of:  # nothing here can refresh it
            continue
        previous = cursor.get(judged.cursor_id)
        if judged.state == STALE:
            entry = dict(previous or {})
            if not previous:
                turned_stale.append(judged)
            kept[judged.cursor_id] = entry
            requested = entry.get("requested")
            if requested is None or now.timestamp() - requested >= judged.fail_window.total_seconds():
                due.append(judged)
        elif previous:
            recovered.append(judged)
    requests = []
    # One run per partition and op: the stale assets of a multi-asset go together.
    for partition, members in _grouped(graph, due)[:MAX_REQUESTS_PER_TICK]:
        keys = [j.key for j in members]
        requests.append(
            RunRequest(
                run_key=f"freshness:{'+'.join(k.to_user_string() for k in keys)}:{partition}:{int(now.timestamp())}",
                job_name=job_of[keys[0]],
                asset_selection=keys,
                partition_key=partition,
                tags={TRIGGER_TAG: "freshness"},
            )
        )
        for judged in members:
            kept[judged.cursor_id]["requested"] = now.timestamp()
    alerts = [_stale_alert(members) for _, members in _grouped(graph, turned_stale)]
    alerts += [_recovered_alert(members) for _, members in _grouped(graph, recovered)]
    send_alerts(discord, alerts, logger=context.log)
    if not requests and not alerts:
        return SensorResult(
            skip_reason=SkipReason("every source's newest partition is fresh or already requested"),
            cursor=json.dumps(kept, sort_keys=True),
        )
    return SensorResult(run_requests=requests, cursor=json.dumps(kept, sort_keys=True))


def _grouped(graph, judged: list[Judged]) -> list[tuple[str | None, list[Judged]]]:
    """By (op, partition): the assets computed by the same op (a multi-asset) refresh in one run
    and are announced in one alert."""
    groups: dict[tuple, list[Judged]] = {}
    for j in judged:
        groups.setdefault((graph.assets_def_for_key(j.key).node_def.name, j.partition or ""), []).append(j)
    return [
        (members[0].partition, sorted(members, key=lambda j: j.key.to_user_string()))
        for _, members in sorted(groups.items())
    ]


def _label(members: list[Judged]) -> str:
    partition = members[0].partition
    return ", ".join(j.key.to_user_string() for j in members) + (f" [{partition}]" if partition else "")


def _last(judged: Judged) -> str:
    return judged.last_materialized.isoformat(timespec="minutes") if judged.last_materialized else "never"


def _stale_alert(members: list[Judged]) -> Alert:
    first = members[0]
    return Alert(
        title=f"Stale: {_label(members)}",
        color=RED,
        url=asset_url(first.key, first.partition),
        description=f"The newest partition is older than its freshness policy allows "
        f"({_hours(first.fail_window)} h); a refresh run was requested.",
        fields={"partition": first.partition or "-", "last materialized": _last(first)},
    )


def _recovered_alert(members: list[Judged]) -> Alert:
    first = members[0]
    return Alert(
        title=f"Fresh again: {_label(members)}",
        color=GREEN,
        url=asset_url(first.key, first.partition),
        description="The newest partition is within its freshness policy again.",
        fields={"partition": first.partition or "-", "last materialized": _last(first)},
    )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


def build_freshness_sensor(jobs: Sequence) -> SensorDefinition:
    """The sensor, targeting the sources' own jobs (`jobs`): a refresh run is the job of the stale
    asset, for its partition and that asset (with the stale assets of the same op)."""
    names = [job.name for job in jobs]

    @sensor(
        name=SENSOR_NAME,
        jobs=list(jobs),
        minimum_interval_seconds=300,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests a refresh run for a source asset whose newest partition is stale under its "
        "freshness policy (once per fail window), and posts stale / fresh-again to Discord.",
    )
    def freshness_refresh(context: SensorEvaluationContext, discord: DiscordNotifier):
        return evaluate(context, discord, job_names=names)

    return freshness_refresh
