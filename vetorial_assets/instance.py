"""Prepare the process environment: VETORIAL_HOME, DAGSTER_HOME and its dagster.yaml.

The Dagster instance keeps runs and events in PostgreSQL (dagster-postgres). On the
embedded defaults that is the `dagster` database of the embedded server; with a real
server, point VETORIAL_DAGSTER_STORAGE_URL at it (README, "Dagster instance").
"""

from __future__ import annotations

import os
from pathlib import Path

from resources.embedded import DAGSTER_DB, WAREHOUSE_DB, ensure_server
from resources.warehouse import sqlalchemy_url

from .settings import Settings

_MARKER = "# written by `vetorial` (delete this line to keep your own edits)"

DAGSTER_YAML = """{marker}
storage:
  postgres:
    postgres_url:
      env: VETORIAL_DAGSTER_STORAGE_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
# A run's console output from INFO up (every Dagster event, DEBUG ones included, still goes
# to the event log the UI shows); at DEBUG, a 90-day Meta backfill run spent a fifth of its
# CPU formatting ~4 console lines per partition.
python_logs:
  python_log_level: {log_level}
telemetry:
  enabled: false
nux:
  enabled: false
"""


LOG_LEVEL = "INFO"
# The same logging settings for instances made in code (benchmarks).
INSTANCE_LOG_SETTINGS = {"python_logs": {"python_log_level": LOG_LEVEL}}


def prepare_environment(settings: Settings) -> dict[str, str]:
    """Start the embedded server if needed and export what child processes must see."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["VETORIAL_HOME"] = str(home)  # absolute: Dagster's subprocesses find the same server
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)

    if not os.environ.get("VETORIAL_DAGSTER_STORAGE_URL"):
        if settings.warehouse_url:
            # Same server as the warehouse, database 'dagster' unless told otherwise.
            from sqlalchemy import make_url

            storage = make_url(sqlalchemy_url(settings.warehouse_url, "psycopg2")).set(database=DAGSTER_DB)
            os.environ["VETORIAL_DAGSTER_STORAGE_URL"] = storage.render_as_string(hide_password=False)
        else:
            server = ensure_server(home, databases=(WAREHOUSE_DB, DAGSTER_DB))
            # dagster-postgres cannot use SQLAlchemy 2.1's psycopg 3 dialect.
            os.environ["VETORIAL_DAGSTER_STORAGE_URL"] = server.url(DAGSTER_DB, driver="psycopg2")
    elif settings.embedded_postgres:
        ensure_server(home, databases=(WAREHOUSE_DB, DAGSTER_DB))

    config = dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(_MARKER):
        config.write_text(DAGSTER_YAML.format(marker=_MARKER, log_level=LOG_LEVEL))
    return {"VETORIAL_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
