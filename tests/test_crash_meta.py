"""Crash suite, Meta Ads insights (raw + staging) and Instagram follows: real runs in processes of
their own, a real PostgreSQL, SIGKILL at a chosen point (issue 11, "Crash suite").

Each run is stopped deterministically, never by a sleep: a row trigger holds its statement at
the Nth row it writes (tests/crash_helpers.py `Pause`: mid-merge of raw, mid-merge of staging
with raw already merged in the same transaction, mid-merge of a staging rebuild from raw), or
a third session's lock on ops.rejected_values holds it right after its data transaction
committed, before Dagster records anything (the asset's check reads that table next). Then
the process is SIGKILLed. Throughout, a reader session polls what a dashboard would read
(raw and staging of the range in one snapshot) and must only ever see the state before the
run or the state after a complete run, raw and staging agreeing day by day; the next run
succeeds and the tables equal (checksum over ordered rows) those of a run that never
crashed. Killed while pulling (rows in the spools, no transaction open) is
tests/test_pull_then_apply.py's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetKey, DagsterInstance

from tests.conftest import run_range
from tests.crash_helpers import (
    Pause,
    RangeRun,
    Reader,
    client_sessions,
    digest,
    project_advisory_locks,
    wait_for,
    waiting_on_relation,
)
from vetorial_assets.instagram.schedules import JOB_NAME as IG_JOB
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
from vetorial_assets.sandbox.graph_data import sandbox_today
from vetorial_assets.warehouse.tables import VOLATILE

pytestmark = pytest.mark.slow  # real processes killed at chosen points

ACCOUNT = "act_100000000000001"
IG_ACCOUNT = "17841400000000001"
RAW, STAGING, FOLLOWS = "raw.meta_ads_insights", "staging.insights_meta_ads", "raw.ig_follows"
STAGING_KEY = "staging/insights_meta_ads"
RANGE = "account_id = %(account)s AND data BETWEEN %(first)s AND %(last)s"
PER_DAY = (
    "(SELECT coalesce(string_agg(data || '=' || n, ',' ORDER BY data), '') FROM (SELECT data, count(*) AS n "
    "FROM {table} WHERE " + RANGE + " GROUP BY data) AS d)"
)
# What a reader of the range sees, in one snapshot: raw, staging (every column, audit times
# included), and each one's rows per day.
META_STATE = (
    f"SELECT {digest(RAW, RANGE)}, {digest(STAGING, RANGE)}, {PER_DAY.format(table=RAW)}, "
    f"{PER_DAY.format(table=STAGING)}"
)
FOLLOWS_RANGE = "ig_account_id = %(account)s AND data_registro BETWEEN %(first)s AND %(last)s"
FOLLOWS_STATE = f"SELECT {digest(FOLLOWS, FOLLOWS_RANGE)}"


def days(back_first: int, back_last: int = 1):
    today = sandbox_today()
    return today - timedelta(days=back_first), today - timedelta(days=back_last)


def stable(db, table: str, where: str, params: dict) -> str:
    """rows:md5 of `table`'s rows in the scope without their audit times (which differ between
    two runs storing the same data)."""
    left_out = sorted(VOLATILE[table])
    with db.connect() as conn:
        return conn.execute(
            f"SELECT count(*) || ':' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))"  # noqa: S608
            f" FROM (SELECT CAST(to_jsonb(t) - CAST(%(out)s AS text[]) AS text) AS r"
            f" FROM {table} AS t WHERE {where}) AS s",
            {**params, "out": left_out},
        ).fetchone()[0]


def reference(make_db, make_defs, monkeypatch, db, job: str, account: str, first, last, tables: dict) -> dict:
    """What one run that never crashed leaves (same sandbox data, a database of its own)."""
    ref = make_db("ref")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", ref.url)
    try:
        with DagsterInstance.ephemeral() as instance:
            assert run_range(make_defs(), job, "account", account, first, last, instance).success
        params = {"account": account, "first": first, "last": last}
        return {table: stable(ref, table, where, params) for table, where in tables.items()}
    finally:
        monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)


def kill_and_settle(run: RangeRun, db, ours: set[int], release) -> None:
    """SIGKILL the run, let its blocked statement go on (its session then finds its client gone),
    and wait until its sessions have ended."""
    run.kill()
    release()
    wait_for(lambda: not client_sessions(db) - ours, "the killed run's sessions to end")


@pytest.fixture
def big_graph_api(monkeypatch, vetorial_env):
    """200 ads per account: 1,200 rows a day, so a merge has rows before and after the paused one."""
    with SandboxGraphAPI(ads_per_account=200) as api:
        monkeypatch.setenv("VETORIAL_META_GRAPH_URL", api.base_url)
        yield api


def agree_day_by_day(state: tuple) -> bool:
    _raw, _staging, raw_days, staging_days = state
    return raw_days == staging_days


@pytest.mark.parametrize("stop", ["mid-merge of raw", "mid-merge of staging", "after the commit"])
def test_a_meta_run_killed_mid_merge_or_after_its_commit_shows_readers_before_or_after_only(
    stop, make_defs, make_db, instance, vetorial_env, big_graph_api, monkeypatch, tmp_path
):
    db = vetorial_env
    first, last = days(4)
    params = {"account": ACCOUNT, "first": first, "last": last}
    assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
    # What the killed run changes: a restated day (rows updated), a vanished one (rows deleted).
    big_graph_api.restate(ACCOUNT, first)
    big_graph_api.vanish(ACCOUNT, first + timedelta(days=1))
    with Reader(db, META_STATE, params) as reader:
        before = reader.read_once()
        ours = client_sessions(db)
        if stop == "after the commit":
            holder = db.connect()
            holder.execute("LOCK TABLE ops.rejected_values IN ACCESS EXCLUSIVE MODE")
            run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
            try:
                wait_for(lambda: waiting_on_relation(db, "ops.rejected_values"), "the run to reach its check")
                committed = reader.read_once()
                assert committed != before  # the range is applied and committed, raw and staging
                assert agree_day_by_day(committed)
            finally:
                kill_and_settle(run, db, ours | {holder.info.backend_pid}, holder.close)
            assert reader.read_once() == committed
        else:
            pause = Pause(db, RAW if stop == "mid-merge of raw" else STAGING, at_row=100)
            ours = client_sessions(db)
            run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
            try:
                wait_for(pause.waiting, "the run to reach the paused row")
                assert pause.rows_done() == 100  # 99 rows merged before it, in the open transaction
                if stop == "mid-merge of staging":
                    with db.connect() as conn:  # raw was merged in the very transaction now paused
                        assert (
                            conn.execute(
                                "SELECT count(*) FROM pg_locks WHERE pid = %s AND granted AND "
                                "relation = CAST(%s AS regclass) AND mode = 'RowExclusiveLock'",
                                (pause.waiting(), RAW),
                            ).fetchone()[0]
                            == 1
                        )
            finally:
                kill_and_settle(run, db, ours, pause.release)
            pause.remove()
            assert reader.read_once() == before
        assert project_advisory_locks(db) == []
        # The next run completes the range.
        assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
        after = reader.read_once()
        seen = reader.stop()
    assert set(seen) <= {before, after}, "a reader saw a state that is neither before nor after"
    assert all(agree_day_by_day(state) for state in seen)
    expected = reference(
        make_db, make_defs, monkeypatch, db, META_JOB, ACCOUNT, first, last, {RAW: RANGE, STAGING: RANGE}
    )
    assert {table: stable(db, table, RANGE, params) for table in (RAW, STAGING)} == expected


def test_a_staging_rebuild_killed_mid_merge_leaves_staging_as_it_was(
    make_defs, make_db, instance, vetorial_env, big_graph_api, monkeypatch, tmp_path
):
    db = vetorial_env
    first, last = days(4)
    params = {"account": ACCOUNT, "first": first, "last": last}
    assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
    # Raw alone re-pulled with a restated day: staging is to be rebuilt from raw, no API call.
    big_graph_api.restate(ACCOUNT, first)
    assert run_range(
        make_defs(),
        META_JOB,
        "account",
        ACCOUNT,
        first,
        last,
        instance,
        asset_selection=[AssetKey(["raw", "meta_ads_insights"])],
    ).success
    requests = len(big_graph_api.requests_to("insights"))
    staging_state = f"SELECT {digest(STAGING, RANGE)}"
    with Reader(db, staging_state, params) as reader:
        before = reader.read_once()
        pause = Pause(db, STAGING, at_row=100)
        ours = client_sessions(db)
        run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last, assets=[STAGING_KEY])
        try:
            wait_for(pause.waiting, "the rebuild to reach the paused row")
        finally:
            kill_and_settle(run, db, ours, pause.release)
        pause.remove()
        assert reader.read_once() == before
        assert run_range(
            make_defs(),
            META_JOB,
            "account",
            ACCOUNT,
            first,
            last,
            instance,
            asset_selection=[AssetKey(["staging", "insights_meta_ads"])],
        ).success
        after = reader.read_once()
        seen = reader.stop()
    assert before != after and set(seen) <= {before, after}
    assert len(big_graph_api.requests_to("insights")) == requests  # rebuilt from raw only
    expected = reference(
        make_db, make_defs, monkeypatch, db, META_JOB, ACCOUNT, first, last, {RAW: RANGE, STAGING: RANGE}
    )
    assert {table: stable(db, table, RANGE, params) for table in (RAW, STAGING)} == expected


def _count(value):
    def change(answer):
        answer["data"][0]["total_value"]["breakdowns"][0]["results"][0]["value"] = value
        return answer

    return change


@pytest.mark.parametrize("stop", ["mid-merge", "after the commit"])
def test_an_instagram_run_killed_mid_merge_or_after_its_commit_shows_readers_before_or_after_only(
    stop, make_defs, make_db, instance, vetorial_env, graph_api, monkeypatch, tmp_path
):
    db = vetorial_env
    first, last = days(6)
    params = {"account": IG_ACCOUNT, "first": first, "last": last}
    assert run_range(make_defs(), IG_JOB, "account", IG_ACCOUNT, first, last, instance).success
    for offset, value in ((0, 901), (2, 902), (4, 903)):  # Meta restates three days' counts
        graph_api.tamper_ig(IG_ACCOUNT, first + timedelta(days=offset), _count(value))
    with Reader(db, FOLLOWS_STATE, params) as reader:
        before = reader.read_once()
        if stop == "after the commit":
            holder = db.connect()
            holder.execute("LOCK TABLE ops.rejected_values IN ACCESS EXCLUSIVE MODE")
            ours = client_sessions(db)
            run = RangeRun(tmp_path, IG_JOB, IG_ACCOUNT, first, last)
            try:
                wait_for(lambda: waiting_on_relation(db, "ops.rejected_values"), "the run to reach its check")
                committed = reader.read_once()
                assert committed != before
            finally:
                kill_and_settle(run, db, ours, holder.close)
            assert reader.read_once() == committed
        else:
            pause = Pause(db, FOLLOWS, at_row=2)  # the first restated day written, the second held
            ours = client_sessions(db)
            run = RangeRun(tmp_path, IG_JOB, IG_ACCOUNT, first, last)
            try:
                wait_for(pause.waiting, "the run to reach the paused row")
            finally:
                kill_and_settle(run, db, ours, pause.release)
            pause.remove()
            assert reader.read_once() == before
        assert project_advisory_locks(db) == []
        assert run_range(make_defs(), IG_JOB, "account", IG_ACCOUNT, first, last, instance).success
        after = reader.read_once()
        seen = reader.stop()
    assert set(seen) <= {before, after}
    expected = reference(make_db, make_defs, monkeypatch, db, IG_JOB, IG_ACCOUNT, first, last, {FOLLOWS: FOLLOWS_RANGE})
    assert stable(db, FOLLOWS, FOLLOWS_RANGE, params) == expected[FOLLOWS]
    with db.connect() as conn:  # the restated counts landed
        assert conn.execute(
            f"SELECT follows FROM {FOLLOWS} WHERE ig_account_id = %s AND data_registro = ANY(%s)"  # noqa: S608
            " ORDER BY data_registro",
            (IG_ACCOUNT, [first + timedelta(days=d) for d in (0, 2, 4)]),
        ).fetchall() == [(901,), (902,), (903,)]
