"""Prepare the process environment: VETORIAL_HOME, DAGSTER_HOME and its dagster.yaml,
DAGSTER_EVENT_BATCH_SIZE.

The Dagster instance keeps runs and events in PostgreSQL (dagster-postgres). The written
dagster.yaml works for the plain Dagster CLI with nothing exported but DAGSTER_HOME
(README, "Operating with the Dagster CLI"):
- embedded default: our storage class with the home's absolute path; each Dagster
  process starts (or finds) the embedded server and uses its socket URL (no secret);
- VETORIAL_DAGSTER_STORAGE_URL set: `env: VETORIAL_DAGSTER_STORAGE_URL` (export it where
  Dagster runs);
- VETORIAL_WAREHOUSE_URL set: database `dagster` on the warehouse's server, the URL read
  from `env: VETORIAL_WAREHOUSE_URL` (which the code location needs anyway).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..home import HOME_LINE
from ..settings import Settings
from .embedded import DAGSTER_DB, WAREHOUSE_DB, ensure_server

_MARKER = "# written by `vetorial` (delete this line to keep your own edits)"

EMBEDDED_STORAGE = """storage:
  custom:
    module: vetorial_assets.platform.dagster_storage
    class: VetorialDagsterStorage
    config:
      home: {home}
"""

WAREHOUSE_STORAGE = """storage:
  custom:
    module: vetorial_assets.platform.dagster_storage
    class: VetorialDagsterStorage
    config:
      warehouse_url:
        env: VETORIAL_WAREHOUSE_URL
      database: {database}
"""

URL_STORAGE = """storage:
  postgres:
    postgres_url:
      env: VETORIAL_DAGSTER_STORAGE_URL
"""

DAGSTER_YAML = """{marker}
{home_line}
{storage}run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
# Runs are launched as Dagster's default launcher does; ours also tells the daemon whether a
# STARTED run's worker is still alive, so run monitoring fails a run whose worker was killed
# (it held a slot of the queue forever before). Monitoring also fails a run whose worker
# never started or never finished cancelling, and one past max_runtime_seconds (the tag
# dagster/max_runtime_seconds raises it for one run).
run_launcher:
  module: vetorial_assets.platform.run_launcher
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_runtime_seconds: {max_runtime}
  poll_interval_seconds: 30
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
# Far longer than any run of this project at the benchmarks' volumes (minutes): a run still
# going after it is stuck.
MAX_RUNTIME_SECONDS = 6 * 3600
# The same logging settings for instances made in code (benchmarks).
INSTANCE_LOG_SETTINGS = {"python_logs": {"python_log_level": LOG_LEVEL}}
# With this set (Dagster reads it from the environment only), the materialization events of
# a range run's partitions are stored as one batch per asset (one INSERT) instead of one
# storage call each: a 90-day range run records about four events per partition, and this
# halved its event-recording time. An exported value wins (0: off).
EVENT_BATCH_ENV, EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE", "1000"


def storage_block(settings: Settings) -> str:
    if settings.dagster_storage_url_set:
        return URL_STORAGE
    if settings.warehouse_url:
        return WAREHOUSE_STORAGE.format(database=DAGSTER_DB)
    return EMBEDDED_STORAGE.format(home=json.dumps(str(settings.home)))  # a JSON string is a YAML string


def dagster_yaml(settings: Settings) -> str:
    return DAGSTER_YAML.format(
        marker=_MARKER,
        home_line=f"{HOME_LINE}{settings.home}",
        storage=storage_block(settings),
        log_level=LOG_LEVEL,
        max_runtime=MAX_RUNTIME_SECONDS,
    )


def write_dagster_yaml(settings: Settings, dagster_home: Path) -> Path:
    """Write dagster.yaml unless the user took it over (removed the marker line)."""
    config = dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8").startswith(_MARKER):
        tmp = config.with_name(f".dagster.yaml.{os.getpid()}")
        tmp.write_text(dagster_yaml(settings), encoding="utf-8")
        tmp.replace(config)  # another process reading it never sees half a file
    return config


def prepare_environment(settings: Settings) -> dict[str, str]:
    """Start the embedded server if needed (this process uses it until it exits), write
    dagster.yaml, and export what child processes must see."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["VETORIAL_HOME"] = str(home)  # absolute: Dagster's subprocesses find the same server
    dagster_home = Path(settings.dagster_home or home / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ.setdefault(EVENT_BATCH_ENV, EVENT_BATCH_SIZE)  # this process's runs and Dagster's children
    if settings.embedded_postgres:
        ensure_server(home, databases=(WAREHOUSE_DB, DAGSTER_DB))
    write_dagster_yaml(settings, dagster_home)
    return {"VETORIAL_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
