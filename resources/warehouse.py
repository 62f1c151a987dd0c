"""`Warehouse`: the PostgreSQL the BI dashboards read (SQLAlchemy 2 + psycopg 3).

With no URL, it is the embedded server under VETORIAL_HOME. Assets write through
`Warehouse.load`, the project's one load path (resources/load/engine.py); assets that pull
from an API spool what they pull and apply it afterwards (`Warehouse.spooler`,
resources/load/spool.py), so no lock or transaction waits on the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from importlib import resources as pkg_resources
from pathlib import Path
from typing import Any

import psycopg
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine, Table, create_engine, event, make_url, text

from resources import load as loader
from resources.load.rejections import Quarantine
from resources.load.spool import Spooler
from resources.support.gc_control import gc_paused
from vetorial_assets.platform.embedded import WAREHOUSE_DB, ensure_server
from vetorial_assets.warehouse import migrate
from vetorial_assets.warehouse.tables import SCHEMAS, metadata

log = logging.getLogger("vetorial.warehouse")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
# Warehouses (by URL) whose schema this process already ensured: Dagster builds a new
# resource for every run, and the DDL pass (a dozen catalog checks, the views replaced, a
# commit) ran again in every run of a process.
_schemas_ready: set[str] = set()


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """Accept postgres://, postgresql:// or any postgresql+driver:// URL; use `driver`."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {safe_url(url)}")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password masked: the only form that may be logged or shown."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


class WarehouseConnectionError(RuntimeError):
    """The warehouse server could not be reached (named, with its URL's password masked)."""


def _name_the_warehouse(url: str):
    """A handle_error listener: a failed connect says it was the warehouse's, and which one.
    psycopg's own message names a host and port only; with a Chatwoot source and a Dagster
    storage beside it, "Connection refused" does not say which database is down."""
    shown = safe_url(url)
    password = make_url(url).password

    def listener(context) -> None:
        # No connection yet: a connect (pre-ping's own failure is not one; it reconnects).
        if context.connection is None and not context.is_pre_ping:
            reason = str(context.original_exception).strip()
            if password:
                reason = reason.replace(str(password), "***")
            raise WarehouseConnectionError(f"cannot connect to the warehouse {shown}: {reason}")

    return listener


def shared_engine(url: str, *, name_errors: bool = False, **kwargs: Any) -> Engine:
    """One engine (and pool) per URL per process: Dagster builds resources for every step.
    name_errors: a failed connect raises WarehouseConnectionError naming the warehouse."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(url, pool_pre_ping=True, **kwargs)
            if name_errors:
                event.listen(engine, "handle_error", _name_the_warehouse(url))
            _engines[url] = engine
        return engine


def _table_volatile(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if c.info.get("volatile"))


def _table_pii(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if c.info.get("pii"))


def _table_digested(table: Table) -> frozenset[str]:
    return frozenset(name for c in table.columns for name in c.info.get("digest_of", ()))


def describe_target(conn: psycopg.Connection, table: Table) -> loader.TargetTable:
    """The load path's view of `table`: the catalog's columns and key, plus the contract's
    volatile, personal-data and digested columns."""
    return loader.describe_table(
        conn, table.schema, table.name, _table_volatile(table), _table_pii(table), _table_digested(table)
    )


class Warehouse(ConfigurableResource):
    """The analytics warehouse. `url` unset: the embedded PostgreSQL under `home`."""

    url: str | None = Field(default=None, description="SQLAlchemy/libpq URL; unset = embedded server.")
    home: str = Field(default=".vetorial", description="Data dir of the embedded server.")
    pool_size: int = 5
    max_overflow: int = 5

    # ---------------------------------------------------------------- connections

    def resolved_url(self) -> str:
        if self.url:
            return sqlalchemy_url(self.url)
        return ensure_server(Path(self.home)).url(WAREHOUSE_DB)

    def describe(self) -> str:
        return safe_url(self.resolved_url())

    def engine(self) -> Engine:
        return shared_engine(
            self.resolved_url(),
            name_errors=True,
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            # Temp tables of the load path stay in memory up to this size.
            connect_args={"options": "-c temp_buffers=64MB"},
        )

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A psycopg connection inside one transaction: committed on success, rolled back on error."""
        with self.engine().begin() as sa_conn:
            yield sa_conn.connection.driver_connection

    @contextmanager
    def bulk_transaction(self) -> Iterator[psycopg.Connection]:
        """`transaction()` for a bulk load, with Python's cyclic garbage collector paused
        while it is open. A load allocates millions of row objects, all acyclic (freed by
        reference counting): the collector's passes over them, and over every long-lived
        object of the process, are pure cost (docs/design.md, "Garbage collector")."""
        with gc_paused(), self.transaction() as conn:
            yield conn

    # ---------------------------------------------------------------- schema

    def ensure_schema(self) -> None:
        """Create schemas, tables and views if missing, and apply pending migrations
        (idempotent, safe under concurrency); once per process and warehouse.

        Order: tables `create_all` lacks are created in their current form; the numbered
        migrations (vetorial_assets/warehouse/migrations) bring older tables there, each
        once; then the views are re-created (a migration may drop one that depends on a
        column it alters)."""
        url = self.resolved_url()
        if url in _schemas_ready:
            return
        with self.engine().begin() as conn:
            # Concurrent first runs would race on CREATE; serialize them.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('vetorial/ddl', 0))"))
            for schema in SCHEMAS:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))  # constant names
            existing = conn.execute(
                text(
                    "SELECT count(*) FROM unnest(CAST(:names AS text[])) AS t(name) WHERE to_regclass(name) IS NOT NULL"
                ),
                {"names": [t.fullname for t in metadata.sorted_tables]},
            ).scalar_one()
            metadata.create_all(conn, checkfirst=True)
            applied = migrate.apply_pending(conn, fresh=existing == 0)
            if applied:
                log.info("warehouse %s: applied migration(s) %s", self.describe(), ", ".join(applied))
            for sql_file in sorted(
                pkg_resources.files("vetorial_assets.warehouse").joinpath("sql").iterdir(), key=lambda f: f.name
            ):
                if sql_file.name.endswith(".sql"):
                    conn.exec_driver_sql(sql_file.read_text(encoding="utf-8"))
        _schemas_ready.add(url)

    # ---------------------------------------------------------------- loading

    def load(
        self,
        table: Table,
        chunks: Iterable[loader.Chunk],
        *,
        replace_scope: Mapping[str, Any] | None = None,
        lock: tuple[str, ...] | None = None,
        logger: Any = log,
        conn: psycopg.Connection | None = None,
        quarantine: Quarantine | None = None,
    ) -> loader.LoadResult:
        """Load `chunks` into `table` in one transaction (or in `conn`'s, if given).

        lock: (asset, partition) parts of an advisory lock held until commit, so two runs of
        the same partition serialize instead of interleaving.
        quarantine: who is loading, for the values the table cannot store (recorded in
        ops.rejected_values in the same transaction; see loader.load).
        """
        self.ensure_schema()
        if conn is not None:  # the caller's connection: the chunks may be read from it
            return self._load_on(conn, table, chunks, replace_scope, lock, logger, True, quarantine)
        with self.transaction() as tx:  # opened here: nothing else can be using it
            return self._load_on(tx, table, chunks, replace_scope, lock, logger, False, quarantine)

    @contextmanager
    def spooler(self, logger: Any = log) -> Iterator[Spooler]:
        """A session of its own (autocommit) to spool a pulled range into and apply it in one
        transaction (resources/load/spool.py). Its spools are dropped when the block ends; a
        session left unusable (a failed COPY, a restarted server) is discarded, not pooled.
        Python's cyclic garbage collector is paused while the session is open: the pulled
        pages and the rows made of them are acyclic (docs/design.md, "Garbage collector")."""
        self.ensure_schema()
        with gc_paused(), self.engine().connect() as sa_conn:
            # Reset to the pool's default when the connection goes back to it.
            sa_conn.execution_options(isolation_level="AUTOCOMMIT")
            conn = sa_conn.connection.driver_connection
            spooler = Spooler(conn, partial(describe_target, conn), logger)
            try:
                yield spooler
            finally:
                if not spooler.close():
                    sa_conn.invalidate()

    def _load_on(
        self, conn, table, chunks, replace_scope, lock, logger, chunks_use_conn, quarantine
    ) -> loader.LoadResult:
        if lock:
            loader.advisory_xact_lock(conn, *lock)
        target = describe_target(conn, table)
        return loader.load(
            conn,
            target,
            chunks,
            replace_scope=replace_scope,
            logger=logger,
            chunks_use_conn=chunks_use_conn,
            quarantine=quarantine,
        )

    def row_count(self, table: Table, where: Mapping[str, Any] | None = None) -> int:
        from sqlalchemy import func, select

        stmt = select(func.count()).select_from(table)
        for name, value in (where or {}).items():
            stmt = stmt.where(table.c[name] == value)
        with self.engine().connect() as conn:
            return int(conn.execute(stmt).scalar_one())
