"""The Dagster instance storage (vetorial_assets/platform/dagster_storage.py) on a real PostgreSQL: pooled
connections released with the instance, asynchronous commits for Dagster's sessions only,
and a range run's batched events all stored (DAGSTER_EVENT_BATCH_SIZE, as `vetorial`
commands export it)."""

from __future__ import annotations

from datetime import date

import pytest


def _dagster_yaml(tmp_path, db) -> None:
    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  custom:\n    module: vetorial_assets.platform.dagster_storage\n    class: VetorialDagsterStorage\n"
        f"    config:\n      warehouse_url:\n        env: VETORIAL_WAREHOUSE_URL\n      database: {db.name}\n"
    )


def _storage_db(tmp_path, monkeypatch, make_db):
    """A database for the instance storage, named in a dagster.yaml under tmp_path."""
    db = make_db("dagster")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)
    _dagster_yaml(tmp_path, db)
    return db


def _backends(db) -> int:
    import psycopg

    with psycopg.connect(db.server.conninfo("postgres")) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db.name,)).fetchone()[0]


def test_storage_keeps_few_connections_commits_asynchronously_and_releases_them(tmp_path, monkeypatch, make_db):
    from dagster import DagsterInstance, materialize
    from dagster import asset as dagster_asset
    from sqlalchemy import text

    db = _storage_db(tmp_path, monkeypatch, make_db)

    @dagster_asset
    def probe():
        return 1

    with DagsterInstance.from_config(str(tmp_path)) as instance:
        for _ in range(3):
            assert materialize([probe], instance=instance).success
        event_log = instance.event_log_storage  # the dagster-postgres one
        with event_log._connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
        # Kept between calls (dagster-postgres alone opens and closes one per call), at most
        # the pool's size per storage.
        assert 1 <= _backends(db) <= 6
    assert _backends(db) == 0  # disposed with the instance

    # The warehouse's own sessions commit synchronously.
    from resources.warehouse import Warehouse

    with Warehouse(url=db.url).transaction() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"


def test_a_user_url_keeps_its_options(tmp_path):
    from sqlalchemy import make_url

    from vetorial_assets.platform.dagster_storage import with_session_options

    url = with_session_options("postgresql+psycopg2://u:p%40ss@db:5432/dagster?options=-c%20search_path%3Dx")
    parsed = make_url(url)
    assert parsed.query["options"] == "-c search_path=x -c synchronous_commit=off"
    assert parsed.password == "p@ss" and parsed.host == "db"
    assert with_session_options(url) == url  # idempotent


@pytest.mark.parametrize("batch", ["1000", "0"], ids=["batched", "one_by_one"])
def test_range_run_records_every_partition_materialization(tmp_path, monkeypatch, make_db, batch):
    from dagster import (
        AssetKey,
        BackfillPolicy,
        DagsterInstance,
        DailyPartitionsDefinition,
        MaterializeResult,
        asset,
        materialize,
    )

    db = make_db("dagster")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch)
    _dagster_yaml(tmp_path, db)
    days = DailyPartitionsDefinition(start_date="2025-01-01")

    @asset(partitions_def=days, backfill_policy=BackfillPolicy.single_run())
    def daily(context):
        return MaterializeResult()

    tags = {"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-01-05"}
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert materialize([daily], instance=instance, tags=tags).success
        records = instance.fetch_materializations(AssetKey("daily"), limit=100).records
        assert sorted(r.partition_key for r in records) == [str(date(2025, 1, d)) for d in range(1, 6)]
        assert instance.get_materialized_partitions(AssetKey("daily")) == {str(date(2025, 1, d)) for d in range(1, 6)}


def test_vetorial_commands_export_the_event_batch_size(tmp_path, monkeypatch):
    import os

    from vetorial_assets.platform.instance import EVENT_BATCH_ENV, prepare_environment
    from vetorial_assets.settings import load_settings

    for name in ("VETORIAL_DAGSTER_STORAGE_URL", "DAGSTER_HOME", EVENT_BATCH_ENV):
        monkeypatch.setenv(name, "")  # recorded, so whatever prepare_environment sets is undone
        monkeypatch.delenv(name)
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", "postgresql://u@localhost:1/x")  # no embedded server started
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", "postgresql://u@localhost:1/y")
    prepare_environment(load_settings())
    assert int(os.environ[EVENT_BATCH_ENV]) > 0
    monkeypatch.setenv(EVENT_BATCH_ENV, "0")  # an exported value wins
    prepare_environment(load_settings())
    assert os.environ[EVENT_BATCH_ENV] == "0"


def test_storing_events_asks_the_catalog_once_per_table_and_column(tmp_path, monkeypatch, make_db):
    """Asset and check events make dagster-postgres ask whether tables and asset_keys columns
    exist, every time; the storage remembers what exists, and asks again about what did not."""
    from dagster import AssetCheckResult, DagsterInstance, asset_check, materialize
    from dagster import asset as dagster_asset
    from sqlalchemy import event

    _storage_db(tmp_path, monkeypatch, make_db)

    @dagster_asset
    def probe():
        return 1

    @asset_check(asset=probe)
    def probe_check():
        return AssetCheckResult(passed=True)

    catalog: list[str] = []
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        event_log = instance.event_log_storage
        event.listen(
            event_log._engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *args: catalog.append(statement) if "pg_catalog" in statement else None,
        )
        assert materialize([probe, probe_check], instance=instance).success
        first = len(catalog)
        assert first > 0  # the first run's events asked
        for _ in range(2):
            assert materialize([probe, probe_check], instance=instance).success
        assert len(catalog) == first  # the next ones did not
        assert event_log.has_table("event_logs") and not event_log.has_table("no_such_table")
        asked = len(catalog)
        assert not event_log.has_table("no_such_table")
        assert len(catalog) > asked  # "missing" is not remembered
