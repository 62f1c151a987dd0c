"""Pull first, lock later, end to end (issue 11 defects 5 and 11; resources/load/spool.py).

Real runs in processes of their own (tests/run_range_process.py), the real SDK against the
sandbox Graph API, a real PostgreSQL, SIGKILL:
- a run stuck on the Graph API (a 500, then its retry held by the sandbox) holds no advisory
  lock and no open transaction (pg_locks, pg_stat_activity from a third session), and another
  run of the same account applies meanwhile: Meta and Instagram;
- killed while pulling, while applying raw, or between raw's apply and staging's (held there
  by a table lock of a third session): raw and staging stay exactly at their previous committed
  state, and a re-run leaves the tables a run that never crashed leaves;
- two runs of one range at once: no duplicate, the tables one run leaves, and the second to
  apply finds every row unchanged;
- a run whose pull began earlier leaves a day a later pull applied as that one stored it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import run_range
from tests.crash_helpers import RangeRun, client_sessions, wait_for
from vetorial_assets.instagram.schedules import JOB_NAME as IG_JOB
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
from vetorial_assets.sandbox.graph_data import sandbox_today
from vetorial_assets.warehouse.tables import VOLATILE

ACCOUNT = "act_100000000000001"
IG_ACCOUNT = "17841400000000001"
RAW, STAGING = "raw.meta_ads_insights", "staging.insights_meta_ads"
FAST_RETRIES = {"resources": {"meta": {"config": {"backoff_base_seconds": 0.01}}}}


def query(db, statement: str, params=()) -> list[tuple]:
    with db.connect(autocommit=True) as conn:
        return conn.execute(statement, params or None).fetchall()


def advisory_locks(db) -> list[tuple]:
    return query(
        db,
        "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )


def open_transactions(db) -> list[tuple]:
    """Sessions of the database, other than the asking one, inside a transaction."""
    return query(
        db,
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND (xact_start IS NOT NULL OR backend_xid IS NOT NULL)",
    )


def spool_tables(db) -> list[str]:
    return [
        name
        for (name,) in query(
            db,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname LIKE 'pg\\_temp\\_%' "
            "AND c.relname LIKE '\\_spool\\_%'",
        )
    ]


def checksum(db, table: str, volatile: bool = True) -> tuple[int, str]:
    """(rows, md5 of every row) of `table`; volatile=False leaves out its audit times (fetched_at,
    updated_at), which differ between two runs that store the same data."""
    left_out = [] if volatile else sorted(VOLATILE[table])
    return query(
        db,
        f"SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) FROM ("  # noqa: S608
        f"SELECT CAST(to_jsonb(t) - CAST(%s AS text[]) AS text) AS r FROM {table} AS t) AS s",
        (left_out,),
    )[0]


def tables(db, volatile: bool = True) -> dict[str, tuple[int, str]]:
    return {table: checksum(db, table, volatile) for table in (RAW, STAGING)}


def reference_tables(make_db, make_defs, monkeypatch, db, job: str, account: str, first, last) -> dict:
    """The tables one run that never crashed leaves, from the same sandbox data, in a database
    of its own."""
    reference = make_db("ref")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", reference.url)
    try:
        from dagster import DagsterInstance

        with DagsterInstance.ephemeral() as instance:
            assert run_range(make_defs(), job, "account", account, first, last, instance).success
        return tables(reference, volatile=False)
    finally:
        monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)


def days(n_back_first: int, n_back_last: int = 1):
    today = sandbox_today()
    return today - timedelta(days=n_back_first), today - timedelta(days=n_back_last)


def test_a_meta_run_stuck_in_graph_retries_holds_no_lock_and_another_run_applies(
    make_defs, instance, vetorial_env, graph_api, tmp_path
):
    first, last = days(3)
    graph_api.faults.add(http_status=500, times=1, path_contains="insights")
    held = graph_api.faults.add(hold=True, times=1, path_contains="insights")  # the retry waits on the network
    stuck = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last, FAST_RETRIES)
    try:
        assert held.reached.wait(90), "the run never retried"
        assert advisory_locks(vetorial_env) == [] and open_transactions(vetorial_env) == []
        # Another run of the same account and range goes through meanwhile.
        assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
        landed = tables(vetorial_env)
    finally:
        held.release()
    result = stuck.result()
    assert result["success"], result["errors"]
    assert len(graph_api.requests_to(f"{ACCOUNT}/insights")) >= 3  # the 500, its retry, the other run's
    for table, key in ((RAW, "raw/meta_ads_insights"), (STAGING, "staging/insights_meta_ads")):
        meta = result["materialized"][key]
        assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_deleted"]) == (0, 0, 0)
        assert meta["rows_unchanged"] == meta["rows_in_batch"] == landed[table][0] > 0
    assert tables(vetorial_env) == landed  # not even fetched_at / updated_at rewritten


def test_an_instagram_run_waiting_on_graph_holds_no_lock_and_keeps_the_newer_day(
    make_defs, instance, vetorial_env, graph_api, tmp_path
):
    late, next_day = days(4, 3)
    graph_api.withhold_ig_day(IG_ACCOUNT, late)  # Meta has no data for it yet
    # The first day answered ("no data yet"), the second day's request waits on the network.
    held = graph_api.faults.add(hold=True, times=1, path_contains=f"{IG_ACCOUNT}/insights", skip=1)
    stuck = RangeRun(tmp_path, IG_JOB, IG_ACCOUNT, late, next_day)
    try:
        assert held.reached.wait(90)
        assert advisory_locks(vetorial_env) == [] and open_transactions(vetorial_env) == []
        graph_api.release_ig_day(IG_ACCOUNT, late)  # the count arrives; a run that begins now sees it
        assert run_range(make_defs(), IG_JOB, "account", IG_ACCOUNT, late, next_day, instance).success
    finally:
        held.release()
    result = stuck.result()
    assert result["success"], result["errors"]
    meta = result["materialized"]["raw/ig_follows"]
    # Its "no data yet" for the late day is older than what is stored: left out, not written.
    assert (meta["rows_superseded"], meta["rows_unchanged"], meta["rows_inserted"], meta["rows_updated"]) == (
        1,
        1,
        0,
        0,
    )
    statuses = query(
        vetorial_env,
        "SELECT data_registro, status FROM raw.ig_follows WHERE ig_account_id = %s ORDER BY 1",
        (IG_ACCOUNT,),
    )
    assert statuses == [(late, "ok"), (next_day, "ok")]


@pytest.fixture
def big_graph_api(monkeypatch, vetorial_env):
    """A sandbox with 200 ads per account: 1,200 rows a day, so a few days make a dozen pages and
    the raw spool gets rows before the pull ends."""
    with SandboxGraphAPI(ads_per_account=200) as api:
        monkeypatch.setenv("VETORIAL_META_GRAPH_URL", api.base_url)
        yield api


@pytest.mark.parametrize("stop", ["while pulling", "while applying raw", "between raw and staging"])
def test_a_run_killed_while_pulling_or_applying_leaves_raw_and_staging_as_they_were(
    stop, make_defs, make_db, instance, vetorial_env, big_graph_api, monkeypatch, tmp_path
):
    first, last = days(7)  # 8,400 rows, 7,200 once a day vanished: 15 pages of 500
    assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
    # What the killed run would change if it committed: a restated day, a vanished one.
    big_graph_api.restate(ACCOUNT, first)
    big_graph_api.vanish(ACCOUNT, first + timedelta(days=1))
    before = tables(vetorial_env)
    with vetorial_env.connect() as holder:
        held = None
        if stop == "while pulling":
            # The 12th page: the first 5,000 raw rows are spooled by then.
            held = big_graph_api.faults.add(hold=True, times=1, path_contains="insights", skip=11)
        else:
            holder.execute(f"LOCK TABLE {RAW if stop == 'while applying raw' else STAGING} IN SHARE MODE")
        ours = client_sessions(vetorial_env)  # this process's (the holder, the earlier run's pool)
        run = RangeRun(tmp_path, META_JOB, ACCOUNT, first, last)
        try:
            if held is not None:
                assert held.reached.wait(90)
                # The pages read ahead of the held one get spooled (rows of the range are in a
                # spool), then the run only waits on the network: no transaction, no lock.
                wait_for(
                    lambda: spool_tables(vetorial_env) and not open_transactions(vetorial_env),
                    "the run to have spooled rows and to wait on the network only",
                )
                assert advisory_locks(vetorial_env) == []
            else:
                blocked = STAGING if stop == "between raw and staging" else RAW
                waiter = wait_for(
                    lambda: query(
                        vetorial_env,
                        # This database's only: parallel tests' databases may share table oids.
                        "SELECT pid FROM pg_locks WHERE relation = CAST(%s AS regclass) AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                        (blocked,),
                    ),
                    f"the run to wait for {blocked}",
                )[0][0]
                held_by_waiter = query(
                    vetorial_env,
                    "SELECT locktype, CAST(relation AS regclass)::text, mode FROM pg_locks WHERE pid = %s AND granted",
                    (waiter,),
                )
                # Both locks of the account are taken before anything is written...
                assert sum(1 for t, _, _ in held_by_waiter if t == "advisory") == 2
                if stop == "between raw and staging":
                    # ...and raw was written in the very transaction now waiting to write staging.
                    assert ("relation", RAW, "RowExclusiveLock") in held_by_waiter
        finally:
            run.kill()
            if held is not None:
                held.release()
            holder.rollback()  # lets a blocked statement run on: its session then finds its client gone
        wait_for(lambda: not client_sessions(vetorial_env) - ours, "the killed run's sessions to end")
    assert tables(vetorial_env) == before
    wait_for(lambda: not spool_tables(vetorial_env), "the killed run's spools to go")
    assert advisory_locks(vetorial_env) == []
    # The next run completes the range: the tables a run that never crashed leaves.
    assert run_range(make_defs(), META_JOB, "account", ACCOUNT, first, last, instance).success
    assert tables(vetorial_env, volatile=False) == reference_tables(
        make_db, make_defs, monkeypatch, vetorial_env, META_JOB, ACCOUNT, first, last
    )


def test_two_runs_of_one_range_at_once_leave_one_copy_and_the_second_finds_it_unchanged(
    make_defs, make_db, vetorial_env, graph_api, monkeypatch, tmp_path
):
    first, last = days(5)
    # Both runs' first requests wait until both are in: the two pulls overlap for sure.
    held = graph_api.faults.add(hold=True, times=2, path_contains="insights")
    runs = [RangeRun(tmp_path, META_JOB, ACCOUNT, first, last) for _ in range(2)]
    try:
        wait_for(lambda: held.hits == 2, "both runs to be pulling")
    finally:
        held.release()
    results = [run.result() for run in runs]
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    stored = tables(vetorial_env)
    for table, key in ((RAW, "raw/meta_ads_insights"), (STAGING, "staging/insights_meta_ads")):
        first_applied, second_applied = sorted(
            (r["materialized"][key] for r in results), key=lambda meta: meta["rows_inserted"], reverse=True
        )
        assert first_applied["rows_inserted"] == stored[table][0] > 0
        assert (
            second_applied["rows_inserted"],
            second_applied["rows_updated"],
            second_applied["rows_deleted"],
            second_applied["rows_superseded"],
        ) == (0, 0, 0, 0)
        assert second_applied["rows_unchanged"] == second_applied["rows_in_batch"] == stored[table][0]
    assert tables(vetorial_env, volatile=False) == reference_tables(
        make_db, make_defs, monkeypatch, vetorial_env, META_JOB, ACCOUNT, first, last
    )
