"""`VetorialDagsterStorage`: the Dagster instance storage in dagster.yaml that needs nothing exported.

dagster-postgres storage configured with where the database is rather than a URL:

    storage:
      custom:
        module: resources.dagster_storage
        class: VetorialDagsterStorage
        config:
          home: /abs/path/.vetorial        # the embedded server under this home
          # or: warehouse_url: {env: VETORIAL_WAREHOUSE_URL}   (database `dagster` on that server)

With `home`, every Dagster process (CLI, webserver, daemon, code server, run and step
workers) starts the embedded server if it is not running (after `vetorial down` or a
reboot) and joins its lease, so the server stops when the last of them ends
(resources.embedded). The URL is the server's own unix socket: it holds no secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import Field, StringSource
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from sqlalchemy import make_url

DEFAULT_DATABASE = "dagster"


class StorageConfigError(ValueError):
    """dagster.yaml names no usable storage; the message says what to do."""


def storage_url_from_warehouse(warehouse_url: str, database: str = DEFAULT_DATABASE) -> str:
    """The `database` on the warehouse's server, as dagster-postgres needs it (psycopg2)."""
    parsed = make_url(warehouse_url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise StorageConfigError("Dagster storage: warehouse_url is not a PostgreSQL URL")
    return parsed.set(drivername="postgresql+psycopg2", database=database).render_as_string(hide_password=False)


def embedded_storage_url(home: str | Path, database: str = DEFAULT_DATABASE) -> str:
    from resources.embedded import WAREHOUSE_DB, ensure_server

    try:
        server = ensure_server(Path(home), databases=(WAREHOUSE_DB, database))
    except Exception as exc:
        raise StorageConfigError(
            f"Dagster storage: the embedded PostgreSQL under {home} could not be started "
            f"({type(exc).__name__}); run `vetorial up` to see why") from None
    # dagster-postgres cannot use SQLAlchemy 2.1's psycopg 3 dialect.
    return server.url(database, driver="psycopg2")


class VetorialDagsterStorage(DagsterPostgresStorage):
    """dagster-postgres storage on the embedded server (by home) or the warehouse's server."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "home": Field(StringSource, is_required=False,
                          description="VETORIAL_HOME of the embedded server (absolute path)."),
            "warehouse_url": Field(StringSource, is_required=False,
                                   description="Warehouse URL (use `env:`): database `database` on its server."),
            "database": Field(StringSource, is_required=False, default_value=DEFAULT_DATABASE),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]):
        home, warehouse_url = config_value.get("home"), config_value.get("warehouse_url")
        database = config_value.get("database") or DEFAULT_DATABASE
        if bool(home) == bool(warehouse_url):
            raise StorageConfigError("Dagster storage: set exactly one of `home` and `warehouse_url` "
                                     "in dagster.yaml (run a `vetorial` command to rewrite it)")
        url = embedded_storage_url(home, database) if home else storage_url_from_warehouse(warehouse_url, database)
        return cls(postgres_url=url, inst_data=inst_data)

    # The parent's per-storage class data would hand our config to dagster-postgres classes.
    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return None

    @property
    def run_storage_data(self) -> ConfigurableClassData | None:
        return None

    @property
    def schedule_storage_data(self) -> ConfigurableClassData | None:
        return None
