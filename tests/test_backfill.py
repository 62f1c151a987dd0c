"""A UI backfill of 60 days x 3 Instagram accounts is 3 runs, not 180 (issue 4).

Goes through Dagster's own machinery end to end, in one process:
  GraphQL `launchPartitionBackfill` (the mutation the UI's "Materialize -> backfill" sends)
  -> backfill daemon iteration (asset backfill: BackfillPolicy turns keys into run requests)
  -> queued runs -> run-queue daemon iteration -> run launcher (synchronous, in-memory)
  -> the asset over real HTTP to the sandbox Graph server, real rows in PostgreSQL.
Runs are counted while still queued, so a broken policy fails fast (180 queued runs) instead
of executing 180 runs.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

# Private Dagster entry points (no public API drives the daemons in-process); pinned by dagster<1.14.
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
)
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster_graphql.test.utils import execute_dagster_graphql

from tests.daemon_workspace import daemon_workspace
from tests.daemon_workspace import queued_instance as make_queued_instance
from vetorial_assets.partitions import partition_key as account_day_key
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNTS = ("17841400000000001", "17841400000000002", "17841400000000003")
DAYS = 60
KEY = AssetKey(["raw", "ig_follows"])

LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


@pytest.fixture
def queued_instance(vetorial_env):
    with make_queued_instance() as instance:
        yield instance


@pytest.fixture
def workspace(queued_instance):
    with daemon_workspace(queued_instance) as ctx:
        yield ctx


def partition_key(day: date, account: str) -> str:
    return account_day_key(account, day.isoformat())


def launch_backfill_as_the_ui_does(workspace, keys: list[str]) -> str:
    result = execute_dagster_graphql(
        workspace.create_request_context(),
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": KEY.path}],
                "partitionNames": keys,
                "title": "ig 60 days",
            }
        },
    )
    launched = result.data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_daemon_tick(workspace) -> None:
    errors = [e for e in execute_backfill_iteration(workspace, get_default_daemon_logger("BackfillDaemon")) if e]
    assert not errors, errors


def test_sixty_days_for_three_accounts_is_three_runs(
    workspace, queued_instance: DagsterInstance, vetorial_env, graph_api
):
    last = sandbox_today() - timedelta(days=3)  # settled days: no 48 h lag in the way
    first = last - timedelta(days=DAYS - 1)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    keys = [partition_key(d, a) for a in ACCOUNTS for d in days]
    assert len(keys) == 180

    backfill_id = launch_backfill_as_the_ui_does(workspace, keys)
    backfill_daemon_tick(workspace)

    # The backfill daemon requested one run per account, each over the whole 60-day range.
    runs = queued_instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert len(runs) == 3, f"expected 3 runs, got {len(runs)}"
    ranges = sorted((r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in runs)
    assert ranges == [(partition_key(first, a), partition_key(last, a)) for a in ACCOUNTS]
    assert all(r.status == DagsterRunStatus.QUEUED and r.asset_selection == {KEY} for r in runs)

    # The run-queue daemon launches them; the synchronous launcher executes each to the end.
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))
    runs = queued_instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 3

    # The next daemon tick sees every partition materialized and closes the backfill.
    backfill_daemon_tick(workspace)
    assert queued_instance.get_backfill(backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
    assert len(queued_instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))) == 3

    # 60 rows per account in the warehouse, and the Graph API was asked once per account-day.
    with vetorial_env.connect() as conn:
        got = conn.execute(
            "SELECT ig_account_id, count(*), min(data_registro), max(data_registro)"
            " FROM raw.ig_follows GROUP BY ig_account_id ORDER BY 1"
        ).fetchall()
    assert got == [(a, DAYS, first, last) for a in ACCOUNTS]
    asked = Counter((r.path, r.params.get("since")) for r in graph_api.requests_to("/insights"))
    assert sorted({path for path, _ in asked}) == [f"{a}/insights" for a in ACCOUNTS]
    assert len(asked) == 180 and set(asked.values()) == {1}


def adjacent_runs(accounts) -> list[tuple[str, str]]:
    """(first, last) of each stretch of `accounts` adjacent in the partition list (ACCOUNTS)."""
    runs: list[list[str]] = []
    for account in accounts:
        if runs and ACCOUNTS.index(account) == ACCOUNTS.index(runs[-1][-1]) + 1:
            runs[-1].append(account)
        else:
            runs.append([account])
    return [(run[0], run[-1]) for run in runs]


@pytest.mark.parametrize(
    "n_days, accounts, one_run_per",
    [
        (3, ACCOUNTS, "day"),  # a square selection: a tie goes to the date dimension
        (2, ACCOUNTS, "day"),  # fewer days than accounts
        (5, ACCOUNTS[:2], "account"),  # fewer accounts than days
        (2, ACCOUNTS[::2], "day"),  # a tie again, and the accounts not adjacent: a run per day and account
    ],
)
def test_a_selection_is_split_by_its_dimension_with_fewer_values(
    workspace, queued_instance: DagsterInstance, vetorial_env, graph_api, n_days, accounts, one_run_per
):
    """Dagster 1.13 (DefaultPartitionsSubset.get_partition_key_ranges) groups a multi-partition
    selection by whichever dimension has fewer distinct values in it, the date dimension on a
    tie, and makes one run per contiguous range in each group. What README "Backfills" says."""
    last = sandbox_today() - timedelta(days=3)
    days = [last - timedelta(days=i) for i in range(n_days - 1, -1, -1)]
    keys = [partition_key(d, a) for a in accounts for d in days]

    backfill_id = launch_backfill_as_the_ui_does(workspace, keys)
    backfill_daemon_tick(workspace)

    runs = queued_instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    ranges = sorted((r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in runs)
    if one_run_per == "day":
        # Each run: one day, a run of selected accounts adjacent in the partition list.
        expected = [
            (partition_key(d, first), partition_key(d, last)) for d in days for first, last in adjacent_runs(accounts)
        ]
    else:
        expected = [(partition_key(days[0], a), partition_key(days[-1], a)) for a in accounts]
    assert ranges == sorted(expected)

    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))
    runs = queued_instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * len(expected)

    # Either split lands every selected account-day once, each asked of the Graph API once.
    with vetorial_env.connect() as conn:
        got = conn.execute("SELECT ig_account_id, data_registro FROM raw.ig_follows ORDER BY 1, 2").fetchall()
    assert got == sorted((a, d) for a in accounts for d in days)
    asked = Counter((r.path, r.params.get("since")) for r in graph_api.requests_to("/insights"))
    assert len(asked) == len(keys) and set(asked.values()) == {1}
