"""Fault suite, warehouse: its server restarted between two runs, or down when a run starts.

The warehouse is a second PostgreSQL server (tests/second_server.py: TCP on 127.0.0.1, a
role with a password, as a deployment's), the runs are the real Meta and Chatwoot assets
in one process, so the second run finds the first run's pooled connections, cut by the
restart. Asserted: after a restart the next runs succeed (the pools' pre-ping replaces the
dead connections) and load what changed; with the server down a run fails with a message
naming the server (never its password) and writes nothing, and once it is back the re-run
succeeds.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey
from psycopg import sql

from tests.conftest import REPO, run_range
from tests.fault_helpers import fingerprints, root_cause
from tests.second_server import second_server
from vetorial_assets.chatwoot.schedules import JOB_NAME as CHATWOOT_JOB
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000001"
FIRST, LAST = sandbox_today() - timedelta(days=3), sandbox_today() - timedelta(days=1)
TENANT = "allpfit"
TABLES = ("raw.meta_ads_insights", "staging.insights_meta_ads", "raw.conversas_analytics", "ops.etl_control")
STAGING = AssetKey(["staging", "insights_meta_ads"])


@pytest.fixture(scope="module")
def server():
    home = Path(os.environ.get("VETORIAL_TEST_HOME") or REPO / ".vetorial-test")
    home.mkdir(parents=True, exist_ok=True)
    with second_server(home) as s:
        yield s


@pytest.fixture
def warehouse(server, vetorial_env, monkeypatch):
    """A warehouse database on the second server, owned by a role with a password."""
    role, password = f"wh_{uuid.uuid4().hex[:8]}", f"wh-PW-{uuid.uuid4().hex[:10]}"
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(role), sql.Identifier(role)))
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", server.url(role, user=role, password=password))

    class Db:
        def connect(self, **kwargs):
            return psycopg.connect(
                host="127.0.0.1", port=server.port, user=role, password=password, dbname=role, **kwargs
            )

    yield Db(), password
    if not server.pgdata.joinpath("postmaster.pid").exists():
        server.start()
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def meta(defs, instance):
    return run_range(defs, META_JOB, "account", ACCOUNT, FIRST, LAST, instance, raise_on_error=False)


def chatwoot(defs, instance):
    return defs.resolve_job_def(CHATWOOT_JOB).execute_in_process(
        instance=instance, partition_key=TENANT, raise_on_error=False
    )


def chatwoot_rows(db) -> int:
    with db.connect() as conn:
        return conn.execute("SELECT count(*) FROM raw.conversas_analytics WHERE tenant_id = %s", (TENANT,)).fetchone()[
            0
        ]


def source_rows(src) -> int:
    with src.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM vw_conversations_analytics_final WHERE account_id = 1 AND inbox_id IN (14, 15)"
        ).fetchone()[0]


def test_runs_after_a_warehouse_restart_succeed_on_fresh_connections(
    make_defs, instance, server, warehouse, graph_api, chatwoot_source
):
    db, _ = warehouse
    defs = make_defs()
    assert meta(defs, instance).success and chatwoot(defs, instance).success
    with db.connect() as conn:
        backends_before = {
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        }
    assert backends_before  # the runs' pooled connections, idle in this process
    server.stop()
    server.start()
    graph_api.restate(ACCOUNT, FIRST)
    chatwoot_source.add(1, 14, 5, at=chatwoot_source.now() + timedelta(hours=1))
    assert meta(defs, instance).success
    assert instance.get_latest_materialization_event(STAGING).asset_materialization.metadata["rows_updated"].value > 0
    assert chatwoot(defs, instance).success
    assert chatwoot_rows(db) == source_rows(chatwoot_source)
    with db.connect() as conn:
        assert [r[0] for r in conn.execute("SELECT status FROM ops.etl_control ORDER BY id")] == ["success"] * 2


def test_a_run_while_the_warehouse_is_down_fails_clearly_and_the_rerun_succeeds(
    make_defs, instance, server, warehouse, graph_api, chatwoot_source
):
    db, password = warehouse
    defs = make_defs()
    assert meta(defs, instance).success and chatwoot(defs, instance).success
    before = fingerprints(db, TABLES)
    graph_api.restate(ACCOUNT, FIRST)
    chatwoot_source.add(1, 14, 5, at=chatwoot_source.now() + timedelta(hours=1))
    server.stop()
    try:
        for result in (meta(defs, instance), chatwoot(defs, instance)):
            assert not result.success
            message = root_cause(result)
            assert f'127.0.0.1", port {server.port} failed' in message and "Connection refused" in message
            assert password not in message
    finally:
        server.start()
    assert fingerprints(db, TABLES) == before  # nothing of the failed runs
    assert meta(defs, instance).success and chatwoot(defs, instance).success
    assert chatwoot_rows(db) == source_rows(chatwoot_source)
