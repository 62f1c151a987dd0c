"""The `vetorial` CLI: doctor's report and the Dagster instance it prepares (PostgreSQL-backed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def run_cli(*args, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "vetorial_assets.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, timeout=timeout)


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

    from resources.embedded import create_databases
    from vetorial_assets.instance import prepare_environment
    from vetorial_assets.settings import load_settings

    db = f"dagster_{tmp_path.name[-12:].replace('-', '_')}".lower()
    create_databases(pg_server.conninfo("postgres"), (db,))
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("VETORIAL_DAGSTER_STORAGE_URL", pg_server.url(db, driver="psycopg2"))
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", pg_server.url(db))
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
