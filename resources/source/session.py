"""Connections to the source: one pool per URL and settings, every session read-only.

Sessions start with `default_transaction_read_only=on` (a startup option), so every
transaction, autocommit and the implicit ones included, is READ ONLY on the server's side,
and every transaction we begin takes its snapshot first, after which PostgreSQL refuses
`SET TRANSACTION READ WRITE`: a bug here cannot write into a customer's Chatwoot. Only a
deliberate `SET default_transaction_read_only = off` could; against that, connect with a
read-only role (docs/reliability.md, "Chatwoot source: read-only role").

Sessions use client_encoding UTF8, so text inside wire values is UTF-8.

The URL carries a password: it is only ever shown through `safe_url()`, and connection
errors are re-raised with the password removed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event

from ..support.redaction import redact, register_secret
from .errors import SourceConnectionError, SourceReadError
from .url import parse_url, safe_url


@dataclass(frozen=True)
class SessionOptions:
    """The pool's and each session's settings (the `source_db` resource's fields describe them)."""

    pool_size: int = 3
    max_overflow: int = 2
    pool_timeout: float = 30.0
    pool_recycle: int = 1800
    pool_pre_ping: bool = True
    connect_timeout: int = 10
    statement_timeout_ms: int = 300_000
    lock_timeout_ms: int = 10_000
    application_name: str = "vetorial_assets"
    read_only_session: bool = True


# One engine (pool) per URL and pool settings per process: Dagster builds resources for
# every step, and a pool per step would defeat pooling.
_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


# Every transaction of the session starts READ ONLY on the server's side, whatever the client
# does: autocommit statements, the implicit transaction after a COMMIT, a transaction begun
# outside `read_only_transaction`. A startup option, so it holds from the first statement and
# nothing here ever turns it off (a deliberate `SET default_transaction_read_only = off` still
# could: only a read-only role is a guarantee, see docs/reliability.md).
_READ_ONLY_SESSION = "-c default_transaction_read_only=on"


def _on_connect(dbapi_connection, _record) -> None:
    # The client's side too: psycopg begins each transaction with BEGIN READ ONLY.
    dbapi_connection.read_only = True


def _on_begin(connection) -> None:
    # A READ ONLY transaction may still be switched to READ WRITE until its first query takes a
    # snapshot; take it at once, so `SET TRANSACTION READ WRITE` is refused on any transaction
    # begun through the engine (read_only_transaction's first statement does the same).
    connection.connection.dbapi_connection.execute("SELECT 1")


class ReadOnlyPool:
    """Pooled, read-only connections to the source database at `url`; `relation` is what
    they read, named in read errors."""

    def __init__(self, url: str, relation: str, options: SessionOptions | None = None):
        self.url = url
        self.relation = relation
        self.options = options or SessionOptions()
        self._engine: Engine | None = None

    def safe_url(self) -> str:
        return safe_url(self.url)

    def redact(self, text: str) -> str:
        """`text` without this source's password (for stored errors and tracebacks)."""
        password = parse_url(self.url).password
        return redact(text, (password,) if password else ())

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            options = self.options
            parsed = parse_url(self.url)
            # Known to the project's redaction: any traceback stored in ops.etl_control, any
            # filtered log line, masks it too.
            register_secret(parsed.password)
            key = (
                parsed.render_as_string(hide_password=False),
                options.pool_size,
                options.max_overflow,
                options.pool_timeout,
                options.pool_recycle,
                options.pool_pre_ping,
                options.connect_timeout,
                options.application_name,
                options.read_only_session,
            )
            with _engines_lock:
                engine = _engines.get(key)
                if engine is None:
                    engine = create_engine(
                        parsed,
                        pool_size=options.pool_size,
                        max_overflow=options.max_overflow,
                        pool_timeout=options.pool_timeout,
                        pool_recycle=options.pool_recycle,
                        pool_pre_ping=options.pool_pre_ping,
                        hide_parameters=True,
                        connect_args={
                            "connect_timeout": options.connect_timeout,
                            "application_name": options.application_name,
                            # Wire values carry text in this encoding (see SourceReader.stream).
                            "client_encoding": "utf8",
                            **({"options": _READ_ONLY_SESSION} if options.read_only_session else {}),
                        },
                    )
                    event.listen(engine, "connect", _on_connect)
                    event.listen(engine, "begin", _on_begin)
                    _engines[key] = engine
            self._engine = engine
        return self._engine

    def dispose(self) -> None:
        """Close the pooled connections and forget the engine (tests; processes that are done
        with this source)."""
        if self._engine is not None:
            with _engines_lock:
                for key, engine in list(_engines.items()):
                    if engine is self._engine:
                        del _engines[key]
            self._engine.dispose()
            self._engine = None

    def _checkout(self):
        try:
            return self.engine.raw_connection()
        except (sqlalchemy.exc.DBAPIError, psycopg.Error, OSError) as exc:
            password = parse_url(self.url).password
            reason = redact(str(getattr(exc, "orig", None) or exc), (password,) if password else ()).strip()
            raise SourceConnectionError(
                f"cannot connect to the Chatwoot database {self.safe_url()}: {reason}"
            ) from None
        except sqlalchemy.exc.TimeoutError:
            raise SourceConnectionError(
                f"no free connection to {self.safe_url()} after {self.options.pool_timeout}s "
                f"(pool_size={self.options.pool_size}, max_overflow={self.options.max_overflow})"
            ) from None

    @contextmanager
    def read_only_transaction(
        self,
        isolation: psycopg.IsolationLevel = psycopg.IsolationLevel.REPEATABLE_READ,
    ) -> Iterator[psycopg.Connection]:
        """A pooled psycopg connection inside one READ ONLY transaction (rolled back at exit).

        Session settings are transaction-local (set_config(..., true)), so they work through
        pgbouncer in transaction mode and never leak into the pool: statement and lock
        timeouts, and TimeZone=UTC so timestamptz values come back in UTC. The application
        name (set at connect) shows these sessions in the source's pg_stat_activity."""
        fairy = self._checkout()
        conn: psycopg.Connection = fairy.driver_connection
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()  # the pool's pre-ping leaves its SELECT 1 transaction open
            conn.read_only = True
            conn.isolation_level = isolation
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
                "set_config('TimeZone', 'UTC', true)",
                (f"{self.options.statement_timeout_ms}ms", f"{self.options.lock_timeout_ms}ms"),
            )
            yield conn
        except psycopg.OperationalError as exc:
            # The connection lost, a statement or lock timeout: psycopg's own message names
            # neither the database nor what was being done (with a warehouse and a source,
            # "server closed the connection unexpectedly" does not say which one broke). Other
            # errors (SQL, a refused write) are the caller's and go through as they are.
            error = self._read_error(exc, lost=conn.broken or conn.closed)
        else:
            error = None
        finally:
            try:
                if conn.broken or conn.closed:
                    fairy.invalidate()  # never back into the pool (its reset would fail and log)
                else:
                    conn.rollback()  # read only: nothing to keep
            finally:
                fairy.close()
        if error is not None:
            raise error from None

    def _read_error(self, exc: psycopg.OperationalError, lost: bool) -> RuntimeError:
        reason = self.redact(str(exc)).strip()
        where = f"the Chatwoot database {self.safe_url()} (relation {self.relation})"
        if lost or isinstance(exc, psycopg.errors.AdminShutdown):
            return SourceConnectionError(f"lost the connection to {where} while reading: {reason}")
        if isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in reason:
            reason += (
                f" (statement_timeout_ms={self.options.statement_timeout_ms}: one statement, e.g. one FETCH, "
                "took longer; raise it on the source_db resource or find what slowed the source)"
            )
        elif isinstance(exc, psycopg.errors.LockNotAvailable):
            reason += (
                f" (lock_timeout_ms={self.options.lock_timeout_ms}: another session holds a lock the read "
                "needs, e.g. a migration)"
            )
        return SourceReadError(f"reading {where} failed: {reason}")
