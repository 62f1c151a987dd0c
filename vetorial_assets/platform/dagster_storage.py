"""`VetorialDagsterStorage`: the Dagster instance storage in dagster.yaml that needs nothing exported.

dagster-postgres storage configured with where the database is rather than a URL:

    storage:
      custom:
        module: vetorial_assets.platform.dagster_storage
        class: VetorialDagsterStorage
        config:
          home: /abs/path/.vetorial        # the embedded server under this home
          # or: warehouse_url: {env: VETORIAL_WAREHOUSE_URL}   (database `dagster` on that server)

With `home`, every Dagster process (CLI, webserver, daemon, code server, run and step
workers) starts the embedded server if it is not running (after `vetorial down` or a
reboot) and joins its lease, so the server stops when the last of them ends
(vetorial_assets.platform.embedded). The URL is the server's own unix socket: it holds no secret.

Recording events costs less than with plain dagster-postgres, which opens a connection for
every storage call (2-3 per event: a PostgreSQL backend start each) and waits for the WAL
flush of every one-statement commit. A range run records about four events per partition,
and that was most of the time of a warm demo (docs/design.md, "End to end"). Here each
storage keeps a small connection pool (closed when the instance is disposed), and the
storage's sessions commit asynchronously (`synchronous_commit=off`): an OS or PostgreSQL
crash may lose the last fraction of a second of Dagster events (never the warehouse's data,
whose sessions stay synchronous; the database stays consistent); run monitoring then fails
a run whose end was lost, and a re-run re-materializes. The event log storage remembers the
tables and columns it has found instead of asking the catalog at every event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import Field, StringSource
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine
from sqlalchemy import make_url

from .embedded import WAREHOUSE_DB, ensure_server

DEFAULT_DATABASE = "dagster"
# Session settings of the storage's connections (kept in the URL: dagster-webserver's own
# pool, made by optimize_for_webserver, keeps the URL's options).
SESSION_OPTIONS = "-c synchronous_commit=off"
# Idle connections kept per storage: storing an asset event nests a second connection
# (dagster-postgres checks a table while holding the first). Beyond that, connections open
# and close per use as before (no cap: max_overflow=-1).
POOL_SIZE = 2
POOL_RECYCLE_SECONDS = 3600


class StorageConfigError(ValueError):
    """dagster.yaml names no usable storage; the message says what to do."""


def storage_url_from_warehouse(warehouse_url: str, database: str = DEFAULT_DATABASE) -> str:
    """The `database` on the warehouse's server, as dagster-postgres needs it (psycopg2)."""
    parsed = make_url(warehouse_url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise StorageConfigError("Dagster storage: warehouse_url is not a PostgreSQL URL")
    return parsed.set(drivername="postgresql+psycopg2", database=database).render_as_string(hide_password=False)


def embedded_storage_url(home: str | Path, database: str = DEFAULT_DATABASE) -> str:
    try:
        server = ensure_server(Path(home), databases=(WAREHOUSE_DB, database))
    except Exception as exc:
        raise StorageConfigError(
            f"Dagster storage: the embedded PostgreSQL under {home} could not be started "
            f"({type(exc).__name__}); run `vetorial up` to see why"
        ) from None
    # dagster-postgres cannot use SQLAlchemy 2.1's psycopg 3 dialect.
    return server.url(database, driver="psycopg2")


def with_session_options(url: str) -> str:
    """`url` with SESSION_OPTIONS added to any `options` it already has."""
    parsed = make_url(url)
    existing = parsed.query.get("options")
    if isinstance(existing, tuple):
        existing = " ".join(existing)
    if existing and SESSION_OPTIONS in existing:
        return url
    options = f"{existing} {SESSION_OPTIONS}" if existing else SESSION_OPTIONS
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _use_pool(storage) -> None:
    """Give a dagster-postgres run, event log or schedule storage a pooled engine in place of
    its connection-per-call one (as optimize_for_webserver does, without its statement timeout)."""
    storage._engine.dispose()
    storage._engine = create_pg_engine(
        storage.postgres_url,
        storage._token_provider,
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=-1,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,
    )
    dispose = storage.dispose

    def dispose_with_pool() -> None:  # DagsterInstance.dispose() disposes each storage
        dispose()
        storage._engine.dispose()

    storage.dispose = dispose_with_pool


def _remember_schema(storage) -> None:
    """Remember, per event log storage, the tables and asset_keys columns it found. Storing an
    asset or check event asks the catalog again every time (a reflection query or two per
    event: about a tenth of a warm demo's event time). Only what exists is remembered: nothing
    drops a table or column of a running instance, while `dagster instance migrate` adds some,
    and an answer "missing" is asked again."""
    has_table, has_asset_key_col = storage.has_table, storage.has_asset_key_col
    tables: set[str] = set()
    columns: set[str] = set()

    def remembered_has_table(table_name: str) -> bool:
        if table_name not in tables and has_table(table_name):
            tables.add(table_name)
        return table_name in tables

    def remembered_has_asset_key_col(column_name: str) -> bool:
        if column_name not in columns and has_asset_key_col(column_name):
            columns.add(column_name)
        return column_name in columns

    storage.has_table = remembered_has_table
    storage.has_asset_key_col = remembered_has_asset_key_col


class VetorialDagsterStorage(DagsterPostgresStorage):
    """dagster-postgres storage on the embedded server (by home) or the warehouse's server,
    with pooled connections and asynchronous commits (see the module docstring)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider=None,
    ):
        super().__init__(with_session_options(postgres_url), should_autocreate_tables, inst_data, token_provider)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            _use_pool(storage)
        _remember_schema(self._event_log_storage)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "home": Field(
                StringSource, is_required=False, description="VETORIAL_HOME of the embedded server (absolute path)."
            ),
            "warehouse_url": Field(
                StringSource,
                is_required=False,
                description="Warehouse URL (use `env:`): database `database` on its server.",
            ),
            "database": Field(StringSource, is_required=False, default_value=DEFAULT_DATABASE),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]):
        home, warehouse_url = config_value.get("home"), config_value.get("warehouse_url")
        database = config_value.get("database") or DEFAULT_DATABASE
        if bool(home) == bool(warehouse_url):
            raise StorageConfigError(
                "Dagster storage: set exactly one of `home` and `warehouse_url` "
                "in dagster.yaml (run a `vetorial` command to rewrite it)"
            )
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
