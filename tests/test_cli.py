"""The `vetorial` CLI: doctor's report and the Dagster instance it prepares (PostgreSQL-backed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def run_cli(*args, env=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "vetorial_assets.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=timeout,
    )


def test_doctor_fails_clearly_on_a_bad_tenants_file(tmp_path):
    bad = tmp_path / "tenants.yaml"
    bad.write_text("tenants:\n  - id: a\n    token: EAAB-secret\n")
    result = run_cli("doctor", env={"VETORIAL_TENANTS_FILE": str(bad), "VETORIAL_HOME": str(tmp_path / "h")})
    assert result.returncode == 1
    assert "FAIL  configuration" in result.stdout and "field 'token'" in result.stdout
    assert "EAAB-secret" not in result.stdout + result.stderr


def test_prepared_instance_stores_runs_in_postgres(tmp_path, monkeypatch, pg_server):
    from dagster import DagsterInstance, materialize
    from dagster import asset as dagster_asset

    from vetorial_assets.platform.embedded import create_databases
    from vetorial_assets.platform.instance import prepare_environment
    from vetorial_assets.settings import load_settings

    db = f"dagster_{tmp_path.name[-12:].replace('-', '_')}".lower()
    create_databases(pg_server.conninfo("postgres"), (db,))
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("VETORIAL_DAGSTER_STORAGE_URL", pg_server.url(db, driver="psycopg2"))
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", pg_server.url(db))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as prepare_environment sets it, undone after
    env = prepare_environment(load_settings())
    config = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    assert "env: VETORIAL_DAGSTER_STORAGE_URL" in config.read_text()

    @dagster_asset
    def probe():
        return 1

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = materialize([probe], instance=instance)
        assert result.success
    import psycopg

    with psycopg.connect(pg_server.conninfo(db)) as conn:
        stored = conn.execute("SELECT count(*) FROM runs WHERE run_id = %s", (result.run_id,)).fetchone()[0]
    assert stored == 1


def _settings(monkeypatch, tmp_path, **env):
    from vetorial_assets.settings import load_settings

    for name in ("VETORIAL_WAREHOUSE_URL", "VETORIAL_DAGSTER_STORAGE_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_dagster_yaml_on_the_embedded_default_reads_no_environment(tmp_path, monkeypatch):
    import yaml

    from vetorial_assets.platform.instance import dagster_yaml

    config = yaml.safe_load(dagster_yaml(_settings(monkeypatch, tmp_path)))
    assert config["storage"] == {
        "custom": {
            "module": "vetorial_assets.platform.dagster_storage",
            "class": "VetorialDagsterStorage",
            "config": {"home": str(tmp_path / "home")},
        }
    }
    assert "env" not in json.dumps(config)
    # Kept from before: the run queue, console logging, no telemetry; added: run monitoring.
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["python_logs"] == {"python_log_level": "INFO"} and config["telemetry"] == {"enabled": False}
    assert config["run_launcher"] == {"module": "vetorial_assets.platform.run_launcher", "class": "LocalRunLauncher"}
    assert config["run_monitoring"]["enabled"] is True and config["run_monitoring"]["poll_interval_seconds"] > 0


def test_dagster_yaml_reads_the_urls_users_set_from_the_environment(tmp_path, monkeypatch):
    import yaml

    from vetorial_assets.platform.instance import dagster_yaml

    secret_url = "postgresql://etl:s3cret@db.internal:5432/analytics"
    config = yaml.safe_load(dagster_yaml(_settings(monkeypatch, tmp_path, VETORIAL_WAREHOUSE_URL=secret_url)))
    assert config["storage"]["custom"]["config"] == {
        "warehouse_url": {"env": "VETORIAL_WAREHOUSE_URL"},
        "database": "dagster",
    }
    text = dagster_yaml(
        _settings(monkeypatch, tmp_path, VETORIAL_WAREHOUSE_URL=secret_url, VETORIAL_DAGSTER_STORAGE_URL=secret_url)
    )
    assert yaml.safe_load(text)["storage"] == {"postgres": {"postgres_url": {"env": "VETORIAL_DAGSTER_STORAGE_URL"}}}
    assert "s3cret" not in text


def test_the_dagster_cli_finds_the_home_recorded_in_dagster_yaml(tmp_path, monkeypatch):
    from vetorial_assets.platform.instance import write_dagster_yaml
    from vetorial_assets.settings import load_settings

    settings = _settings(monkeypatch, tmp_path)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    write_dagster_yaml(settings, dagster_home)
    monkeypatch.delenv("VETORIAL_HOME")
    monkeypatch.chdir(tmp_path / "dagster_home")
    assert load_settings().home == Path.cwd() / ".vetorial"  # nothing recorded anywhere
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    assert load_settings().home == tmp_path / "home"  # what `vetorial` used, whatever the cwd
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "other"))
    assert load_settings().home == tmp_path / "other"  # an exported VETORIAL_HOME wins


def test_storage_class_on_the_warehouse_server_stores_runs(tmp_path, monkeypatch, make_db):
    from dagster import DagsterInstance, materialize
    from dagster import asset as dagster_asset

    db = make_db("dagster")
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", db.url)  # psycopg 3 URL: the class switches to psycopg2
    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  custom:\n    module: vetorial_assets.platform.dagster_storage\n    class: VetorialDagsterStorage\n"
        f"    config:\n      warehouse_url:\n        env: VETORIAL_WAREHOUSE_URL\n      database: {db.name}\n"
    )

    @dagster_asset
    def probe():
        return 1

    with DagsterInstance.from_config(str(tmp_path)) as instance:
        result = materialize([probe], instance=instance)
    assert result.success
    with db.connect() as conn:
        assert conn.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,)).fetchone() == ("SUCCESS",)


def test_storage_class_names_what_is_wrong_in_one_line(tmp_path):
    from dagster import DagsterInstance

    from vetorial_assets.platform.dagster_storage import StorageConfigError

    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  custom:\n    module: vetorial_assets.platform.dagster_storage\n"
        "    class: VetorialDagsterStorage\n    config: {}\n"
    )
    with pytest.raises(StorageConfigError, match="exactly one of `home` and `warehouse_url`"):
        DagsterInstance.from_config(str(tmp_path)).run_storage  # noqa: B018 (loading it raises)
