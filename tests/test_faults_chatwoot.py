"""Fault suite, Chatwoot source: the connection dropped mid-stream, refused, or timed out.

The real Chatwoot asset runs through Dagster against a real Chatwoot-shaped PostgreSQL,
reached over TCP on 127.0.0.1 through a proxy (tests/tcp_proxy.py) with a password in its
URL. The proxy breaks the session while a chunked read is in progress: it hangs up after a
few bytes of the third FETCH's answer (the network dropping), or has the server terminate
the backend at that FETCH (`pg_terminate_backend` from another connection, as a DBA or a
failover would). After every fault: the run failed with a message that says what happened
and where (the source's URL without its password); the tenant's rows and watermark are
exactly as before; the run's `ops.etl_control` row is `failed`, closed, with a redacted
error; and the next run loads what the source has.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from resources.source_db import SourceDatabase
from tests.fault_helpers import closed_port, fingerprint, root_cause, with_resources
from tests.tcp_proxy import TcpProxy
from vetorial_assets.chatwoot.schedules import JOB_NAME
from vetorial_assets.sandbox.chatwoot_db import SandboxChatwoot

TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)
OP = "raw__conversas_analytics"
PASSWORD = "cw-Pa55word-NOT-for-logs"
FETCH = b"FETCH FORWARD"


@pytest.fixture
def source(make_db):
    db = make_db("cw")
    src = SandboxChatwoot(db.url)
    src.create()
    src.seed(conversations_per_inbox=60)
    return db, src


@pytest.fixture
def proxy(source, pg_server, monkeypatch, vetorial_env):
    """The source reached through the proxy, by a URL with a password (trust on the test server:
    never asked for, but in the URL, where a leak would start)."""
    db, _ = source
    with TcpProxy(f"{pg_server.socket_dir}/.s.PGSQL.{pg_server.port}") as p:
        monkeypatch.setenv("VETORIAL_CHATWOOT_URL", f"postgresql://postgres:{PASSWORD}@127.0.0.1:{p.port}/{db.name}")
        yield p


def sync(defs, instance, **config):
    run_config = {"ops": {OP: {"config": config}}} if config else None
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, partition_key=TENANT, run_config=run_config, raise_on_error=False
    )


def state(db) -> dict:
    """Everything a failed run must leave as it was: the tenant's rows (every column, audit
    ones included), its watermark, and the audit rows of earlier runs."""
    with db.connect() as conn:
        if conn.execute("SELECT to_regclass('ops.etl_control')").fetchone()[0] is None:
            return {"rows": (0, None), "watermark": None, "audit": []}  # before the first run
        return {
            "rows": fingerprint(conn, "raw.conversas_analytics"),
            "watermark": conn.execute(
                "SELECT max(watermark_end) FROM ops.etl_control WHERE tenant_id = %s AND status = 'success'", (TENANT,)
            ).fetchone()[0],
            "audit": conn.execute(
                "SELECT id, status, completed_at, rows_extracted FROM ops.etl_control ORDER BY id"
            ).fetchall(),
        }


def last_control_row(db) -> dict:
    with db.connect() as conn:
        cur = conn.execute(
            "SELECT status, completed_at, error_message, error_traceback, execution_id"
            " FROM ops.etl_control WHERE tenant_id = %s ORDER BY id DESC LIMIT 1",
            (TENANT,),
        )
        return dict(zip([c.name for c in cur.description], cur.fetchone()))


def source_count(src) -> int:
    with src.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM vw_conversations_analytics_final WHERE account_id = %s AND inbox_id = ANY(%s)",
            (ACCOUNT, list(INBOXES)),
        ).fetchone()[0]


def warehouse_count(db) -> int:
    with db.connect() as conn:
        return conn.execute("SELECT count(*) FROM raw.conversas_analytics WHERE tenant_id = %s", (TENANT,)).fetchone()[
            0
        ]


def assert_failed_cleanly(db, result, before, *expected_words) -> str:
    assert not result.success
    message = root_cause(result)
    for word in expected_words:
        assert word in message, message
    assert PASSWORD not in message
    assert state(db)["rows"] == before["rows"] and state(db)["watermark"] == before["watermark"]
    assert state(db)["audit"][: len(before["audit"])] == before["audit"]  # earlier runs' rows untouched
    row = last_control_row(db)
    assert row["execution_id"] == result.run_id
    assert row["status"] == "failed" and row["completed_at"] is not None
    for word in expected_words:
        assert word in row["error_message"], row["error_message"]
    assert PASSWORD not in row["error_message"] + row["error_traceback"]
    return message


def terminate_backends(db):
    """pg_terminate_backend every session of the sync in the source database (another connection)."""

    def action():
        with db.connect(autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = 'vetorial_assets' AND pid <> pg_backend_pid()",
                (db.name,),
            ).fetchone()[0]
        assert killed >= 1

    return action


@pytest.mark.parametrize("how", ["network drops", "backend terminated"])
@pytest.mark.parametrize("previous", ["first load", "after a load"])
def test_the_source_dropping_mid_stream_leaves_the_tenant_as_it_was(
    make_defs, instance, vetorial_env, source, proxy, how, previous
):
    db, src = source
    defs = make_defs()
    if previous == "after a load":
        assert sync(defs, instance).success
        later = src.now() + timedelta(hours=1)
        src.touch(src.conversation_ids(ACCOUNT, INBOXES), at=later)  # the next run reads them all again
        src.add(ACCOUNT, 14, 5, at=later)
    before = state(vetorial_env)
    if how == "network drops":
        trigger = proxy.arm(FETCH, nth=3, cut_after_bytes=200)
    else:
        trigger = proxy.arm(FETCH, nth=3, action=terminate_backends(db))
    result = sync(defs, instance, chunk_rows=20)  # FETCHes of 20 rows: the 3rd is mid-stream
    assert trigger.fired and trigger.seen == 3
    assert proxy.cut == (1 if how == "network drops" else 0)
    assert_failed_cleanly(vetorial_env, result, before, "Chatwoot database", "127.0.0.1")
    # The next run (the pool's dead connection replaced) loads everything the source has.
    proxy.disarm()
    assert sync(defs, instance).success
    assert warehouse_count(vetorial_env) == source_count(src)
    assert last_control_row(vetorial_env)["status"] == "success"


def test_a_refused_connection_fails_fast_without_the_password(
    make_defs, instance, vetorial_env, source, proxy, monkeypatch
):
    db, src = source
    defs = make_defs()
    assert sync(defs, instance).success
    src.add(ACCOUNT, 14, 5, at=src.now() + timedelta(hours=1))
    before = state(vetorial_env)
    port = closed_port()
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/{db.name}")
    result = sync(defs, instance)
    message = assert_failed_cleanly(
        vetorial_env, result, before, "cannot connect to the Chatwoot database", f"127.0.0.1:{port}"
    )
    assert "Connection refused" in message and "postgres:***@" in message


def test_a_statement_timeout_on_the_source_fails_clearly(make_defs, instance, vetorial_env, source, proxy):
    db, src = source
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/{db.name}"
    defs = make_defs()
    assert sync(defs, instance).success
    src.add(ACCOUNT, 14, 5, at=src.now() + timedelta(hours=1))
    before = state(vetorial_env)
    impatient = with_resources(defs, source_db=SourceDatabase(url=url, statement_timeout_ms=300))
    # A migration holding the table: the sync's read waits for the lock until its statement times out.
    with src.connect() as blocker:
        blocker.execute("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
        result = sync(impatient, instance)
        blocker.rollback()
    assert_failed_cleanly(vetorial_env, result, before, "statement timeout", "statement_timeout_ms=300", "127.0.0.1")
    assert sync(defs, instance).success
    assert warehouse_count(vetorial_env) == source_count(src)


def test_the_source_session_killed_between_runs_is_replaced(make_defs, instance, vetorial_env, source, proxy):
    """Pooled source connections killed while idle (a restart, an idle-session reaper): the
    pool's pre-ping replaces them and the next run succeeds."""
    db, src = source
    defs = make_defs()
    assert sync(defs, instance).success
    terminate_backends(db)()
    src.add(ACCOUNT, 14, 5, at=src.now() + timedelta(hours=1))
    assert sync(defs, instance).success
    assert warehouse_count(vetorial_env) == source_count(src)
    with psycopg.connect(db.conninfo) as conn:  # the source itself was only read
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = 'vetorial_assets' AND state = 'active'",
                (db.name,),
            ).fetchone()[0]
            == 0
        )
