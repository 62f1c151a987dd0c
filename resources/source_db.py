"""`SourceDatabase`: read-only access to the Chatwoot database the conversations come from.

Only reads, and only through one relation (by default Chatwoot's
`vw_conversations_analytics_final`), whose name, key, watermark and tenant columns are
configuration. Sessions start with `default_transaction_read_only=on` (a startup option), so
every transaction, autocommit and the implicit ones included, is READ ONLY on the server's
side, and every transaction we begin takes its snapshot first, after which PostgreSQL refuses
`SET TRANSACTION READ WRITE`: a bug here cannot write into a customer's Chatwoot. Only a
deliberate `SET default_transaction_read_only = off` could; against that, connect with a
read-only role (docs/reliability.md, "Chatwoot source: read-only role").

- `verify_schema` compares the relation with what the ETL needs, from the catalog by the
  relation's oid (information_schema.columns, a view over many joins, took 3x longer: 1.5
  ms on a warm session, up to tens of ms on a new one, twice per run), and fails once,
  naming every missing column (the old ETL learnt column by column).
- `max_watermark` is the sensor's cheap probe: an ORDER BY ... DESC LIMIT 1 that an index on
  (account_id, updated_at) answers without scanning the tenant.
- `stream` reads rows from a server-side cursor in chunks, inside one REPEATABLE READ
  snapshot: memory stays flat whatever the source size, and the rows are consistent.
  Columns the caller only moves into another PostgreSQL can be read undecoded ("wire"):
  bytes in their type's binary format, which a binary COPY of the same type takes as is.

Sessions use client_encoding UTF8, so text inside wire values is UTF-8.

Timestamps always come out as aware datetimes in UTC. Chatwoot stores UTC in `timestamp
without time zone`; a relation exposing such columns is read AT TIME ZONE
`source_timezone` (UTC by default) in SQL, and watermarks are compared in the column's own
type so the index stays usable.

The URL carries a password: it is only ever shown through `safe_url()`, and connection
errors are re-raised with the password removed.

What a real source needs: Chatwoot ships no index on conversations.updated_at, so without
one the probe and every incremental read scan the whole account. Create (CONCURRENTLY) an
index on conversations (account_id, <the expression the view exposes as the watermark>),
e.g. `(account_id, (updated_at AT TIME ZONE 'UTC'))` for the sandbox's view, or
`(account_id, updated_at)` when the view exposes the raw column.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources as pkg_resources
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy.exc
from dagster import ConfigurableResource
from psycopg import sql
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

from resources.support.read_ahead import read_ahead
from resources.support.redaction import redact, register_secret

log = logging.getLogger("vetorial.source_db")

_TIMESTAMP = "timestamp without time zone"
_TIMESTAMPTZ = "timestamp with time zone"
_WATERMARK_TYPES = {_TIMESTAMP, _TIMESTAMPTZ}
_TIMESTAMPTZ_OID = 1184
# Rows parsed per call: psycopg holds the GIL for a whole call, and the fetch thread needs it
# now and then to drain the socket, or the source stalls on a full buffer mid-chunk.
_PARSE_SLICE = 2_000
# Rows of a stream's first FETCH; each next one asks twice as many, up to chunk_rows.
_FIRST_FETCH = 500


# The relation's columns this user may read, with their (domain: base) type, like
# information_schema.columns.data_type but a catalog lookup by oid instead of a scan of
# that view's joins.
_COLUMNS_QUERY = """
SELECT a.attname, format_type(b.oid, NULL), b.oid, b.typsend::regproc::text,
       format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
  AND has_column_privilege(a.attrelid, a.attnum, 'SELECT')
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class WriteAccess:
    """What the connected role could write (`vetorial doctor` warns when anything)."""

    role: str
    superuser: bool
    writable: dict[str, list[str]]  # relation -> privileges among INSERT, UPDATE, DELETE, TRUNCATE

    @property
    def can_write(self) -> bool:
        return self.superuser or bool(self.writable)


class SourceSchemaError(RuntimeError):
    """The source relation is missing, or lacks columns the ETL needs (all of them listed)."""


class SourceConnectionError(RuntimeError):
    """The source database could not be reached, or the connection was lost (message without
    the password)."""


class SourceReadError(RuntimeError):
    """A statement on the source failed (e.g. timed out); the message names the source and, for
    a timeout, the setting that ended it."""


@dataclass(frozen=True)
class SourceRelation:
    """The relation as the catalog describes it: resolved schema, name and column types."""

    schema: str
    name: str
    columns: dict[str, str]  # column name -> data type (a domain: its base type), in table order
    # How `stream` reads each column: the type's oid and its binary send function (naive
    # timestamps are read AT TIME ZONE, as timestamptz).
    type_oids: dict[str, int] = field(default_factory=dict)
    send_functions: dict[str, str] = field(default_factory=dict)
    # The declared type with its modifier (numeric(6,4), character varying(20)): what a
    # warehouse column must accept to take every value of it.
    declared: dict[str, str] = field(default_factory=dict)

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _sql(name: str) -> str:
    return pkg_resources.files("resources").joinpath("sql", name).read_text(encoding="utf-8")


def parse_url(url: str) -> URL:
    """A SQLAlchemy URL on the psycopg 3 driver, from any postgres[ql][+driver]:// form.

    Errors never echo the input: it may hold a password."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except Exception:
        raise ValueError("the Chatwoot database URL is not a valid database URL") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the Chatwoot database URL must be PostgreSQL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg")


def safe_url(url: str) -> str:
    """`url` with the password masked: the only form of it that may be logged or shown."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<invalid database URL>"


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


class SourceDatabase(ConfigurableResource):
    """Read-only access to the Chatwoot source relation."""

    url: str | None = Field(
        default=None,
        repr=False,
        description="SQLAlchemy/libpq URL of the Chatwoot database. Holds a password: "
        "configure it with EnvVar, never inline.",
    )
    relation: str = Field(
        default="vw_conversations_analytics_final",
        description="Table or view to read; may be schema-qualified (schema.name).",
    )
    key_column: str = "conversation_id"
    watermark_column: str = "conversation_updated_at"
    account_column: str = "account_id"
    inbox_column: str = "inbox_id"
    source_timezone: str = Field(
        default="UTC", description="Zone of `timestamp without time zone` columns (Chatwoot writes UTC)."
    )
    pool_size: int = 3
    max_overflow: int = 2
    pool_timeout: float = Field(default=30.0, description="Seconds to wait for a pooled connection.")
    pool_recycle: int = Field(default=1800, description="Reconnect connections older than this (seconds).")
    pool_pre_ping: bool = True
    connect_timeout: int = Field(default=10, description="Seconds to establish a connection.")
    statement_timeout_ms: int = Field(
        default=300_000, description="Per statement (each FETCH of a stream is one); 0 disables."
    )
    lock_timeout_ms: int = Field(
        default=10_000, description="Give up instead of queueing behind a migration's lock; 0 disables."
    )
    application_name: str = "vetorial_assets"
    read_only_session: bool = Field(
        default=True,
        description="Start sessions with default_transaction_read_only=on "
        "(a startup option). Turn off only behind a pooler "
        "that refuses the `options` startup parameter; the "
        "read-only role then is the only guard.",
    )

    _engine: Engine | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ plumbing

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        raise SourceConnectionError("no Chatwoot database configured: set VETORIAL_CHATWOOT_URL")

    def safe_url(self) -> str:
        return safe_url(self.resolved_url())

    def redact(self, text: str) -> str:
        """`text` without this source's password (for stored errors and tracebacks)."""
        password = parse_url(self.resolved_url()).password
        return redact(text, (password,) if password else ())

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            parsed = parse_url(self.resolved_url())
            # Known to the project's redaction: any traceback stored in ops.etl_control, any
            # filtered log line, masks it too.
            register_secret(parsed.password)
            key = (
                parsed.render_as_string(hide_password=False),
                self.pool_size,
                self.max_overflow,
                self.pool_timeout,
                self.pool_recycle,
                self.pool_pre_ping,
                self.connect_timeout,
                self.application_name,
                self.read_only_session,
            )
            with _engines_lock:
                engine = _engines.get(key)
                if engine is None:
                    engine = create_engine(
                        parsed,
                        pool_size=self.pool_size,
                        max_overflow=self.max_overflow,
                        pool_timeout=self.pool_timeout,
                        pool_recycle=self.pool_recycle,
                        pool_pre_ping=self.pool_pre_ping,
                        hide_parameters=True,
                        connect_args={
                            "connect_timeout": self.connect_timeout,
                            "application_name": self.application_name,
                            # Wire values carry text in this encoding (see stream).
                            "client_encoding": "utf8",
                            **({"options": _READ_ONLY_SESSION} if self.read_only_session else {}),
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
            password = parse_url(self.resolved_url()).password
            reason = redact(str(getattr(exc, "orig", None) or exc), (password,) if password else ()).strip()
            raise SourceConnectionError(
                f"cannot connect to the Chatwoot database {self.safe_url()}: {reason}"
            ) from None
        except sqlalchemy.exc.TimeoutError:
            raise SourceConnectionError(
                f"no free connection to {self.safe_url()} after {self.pool_timeout}s "
                f"(pool_size={self.pool_size}, max_overflow={self.max_overflow})"
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
                (f"{self.statement_timeout_ms}ms", f"{self.lock_timeout_ms}ms"),
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
                f" (statement_timeout_ms={self.statement_timeout_ms}: one statement, e.g. one FETCH, "
                "took longer; raise it on the source_db resource or find what slowed the source)"
            )
        elif isinstance(exc, psycopg.errors.LockNotAvailable):
            reason += (
                f" (lock_timeout_ms={self.lock_timeout_ms}: another session holds a lock the read "
                "needs, e.g. a migration)"
            )
        return SourceReadError(f"reading {where} failed: {reason}")

    # ------------------------------------------------------------------ schema

    def describe(self, conn: psycopg.Connection | None = None) -> SourceRelation:
        """Resolve `relation` (search_path applies when unqualified) and list the columns this
        user may SELECT, from the catalog. Raises SourceSchemaError when it does not exist."""
        if conn is None:
            with self.read_only_transaction() as own:
                return self.describe(own)
        found = conn.execute(
            "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(%s)",
            (self.relation,),
        ).fetchone()
        if found is None:
            raise SourceSchemaError(
                f"source relation {self.relation!r} does not exist in {self.safe_url()} (or this user cannot see it)"
            )
        oid, schema, name = found
        rows = conn.execute(_COLUMNS_QUERY, (oid,)).fetchall()
        columns = {column: data_type for column, data_type, _oid, _send, _declared in rows}
        type_oids = {
            column: _TIMESTAMPTZ_OID if data_type == _TIMESTAMP else type_oid
            for column, data_type, type_oid, _send, _declared in rows
        }
        send = {
            column: "pg_catalog.timestamptz_send" if data_type == _TIMESTAMP else send
            for column, data_type, _oid, send, _declared in rows
        }
        declared = {column: text for column, _type, _oid, _send, text in rows}
        return SourceRelation(
            schema=schema, name=name, columns=columns, type_oids=type_oids, send_functions=send, declared=declared
        )

    def required_columns(self, columns: Sequence[str] = ()) -> list[str]:
        """`columns` plus the key, watermark and tenant columns every query uses (no repeats)."""
        fixed = [self.key_column, self.watermark_column, self.account_column, self.inbox_column]
        return list(dict.fromkeys([*columns, *fixed]))

    def _check(self, rel: SourceRelation, required: Sequence[str]) -> None:
        missing = [c for c in self.required_columns(required) if c not in rel.columns]
        if missing:
            hint = " (no column is visible: does this user have SELECT on it?)" if not rel.columns else ""
            raise SourceSchemaError(
                f"source relation {rel.qualified} is missing {len(missing)} column(s) the ETL needs: "
                f"{', '.join(missing)}{hint}"
            )
        wm_type = rel.columns[self.watermark_column]
        if wm_type not in _WATERMARK_TYPES:
            raise SourceSchemaError(
                f"source relation {rel.qualified}: watermark column {self.watermark_column!r} is "
                f"{wm_type}, expected a timestamp"
            )

    def verify_schema(self, required: Sequence[str], rel: SourceRelation | None = None) -> list[str]:
        """Check the relation (`rel`: as already described) has every `required` column (plus
        key, watermark and tenant columns). Raises SourceSchemaError naming all missing ones at
        once; returns the columns the source has beyond those, e.g. new ones to consider (the
        caller reports them, once: the sync as a run warning, doctor in its report)."""
        rel = rel or self.describe()
        self._check(rel, required)
        wanted = set(self.required_columns(required))
        return [c for c in rel.columns if c not in wanted]

    def write_access(self) -> WriteAccess:
        """Whether the configured role could write to the relation or the tables it reads
        (through views, recursively): superuser, or any INSERT/UPDATE/DELETE/TRUNCATE grant.
        The read-only session stops accidents; only a role without these stops intent."""
        with self.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
            self.describe(conn)  # fails clearly when the relation is missing
            oid = conn.execute("SELECT to_regclass(%s)::oid", (self.relation,)).fetchone()[0]
            role = conn.execute("SELECT current_user").fetchone()[0]
            rows = conn.execute(_sql("source_write_access.sql"), {"relation_oid": oid}).fetchall()
        superuser = any(row[2] for row in rows)
        return WriteAccess(
            role=role,
            superuser=superuser,
            writable={relation: list(privs) for relation, privs, _super in rows if privs},
        )

    # ------------------------------------------------------------------ reading

    def _select_item(self, rel: SourceRelation, column: str, wire: bool = False) -> sql.Composable:
        ident = sql.Identifier(column)
        value: sql.Composable = ident
        if rel.columns[column] == _TIMESTAMP:
            # Naive source timestamps are instants in source_timezone: say so in SQL.
            value = sql.SQL("({} AT TIME ZONE {})").format(ident, sql.Literal(self.source_timezone))
        if wire:
            # The send function's bytea is the value's binary wire format (catalog text, not input).
            value = sql.SQL("{}({})").format(sql.SQL(rel.send_functions[column]), value)
        return value if value is ident else sql.SQL("{} AS {}").format(value, ident)

    def _bind_timestamp(self, rel: SourceRelation, value: datetime) -> datetime:
        """`value` in the watermark column's own type, so its index can serve the comparison."""
        if value.tzinfo is None:
            raise ValueError("watermarks must be timezone-aware datetimes")
        if rel.columns[self.watermark_column] == _TIMESTAMP:
            return value.astimezone(ZoneInfo(self.source_timezone)).replace(tzinfo=None)
        return value

    def _as_utc(self, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.source_timezone))
        return value.astimezone(UTC)

    def _tenant_filter(
        self, account_id: int, inbox_ids: Sequence[int] | None
    ) -> tuple[list[sql.Composable], list[Any]]:
        """account = ? and, when inbox ids are given, inbox = ANY(?). No inbox ids: the whole
        account (tenants.yaml allows that only when no other tenant shares the account)."""
        where: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(self.account_column))]
        params: list[Any] = [int(account_id)]
        if inbox_ids:
            where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(self.inbox_column)))
            params.append([int(i) for i in inbox_ids])
        return where, params

    def max_watermark(self, account_id: int, inbox_ids: Sequence[int] | None = None) -> datetime | None:
        """The newest watermark value of one tenant in the source (aware, UTC), or None when
        the tenant has no rows. Written as ORDER BY ... DESC LIMIT 1, not max(): PostgreSQL
        turns max() into an index probe only over a single table, not through a view's joins."""
        with self.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
            rel = self.describe(conn)
            self._check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            wm = sql.Identifier(self.watermark_column)
            where.append(sql.SQL("{} IS NOT NULL").format(wm))
            query = sql.SQL("SELECT {wm} FROM {rel} WHERE {where} ORDER BY {wm} DESC LIMIT 1").format(
                wm=wm, rel=rel.ident, where=sql.SQL(" AND ").join(where)
            )
            row = conn.execute(query, params).fetchone()
            return self._as_utc(row[0]) if row else None

    def count(self, account_id: int, inbox_ids: Sequence[int] | None = None, since: datetime | None = None) -> int:
        """How many rows of one tenant (after `since`, when given) the source has now."""
        with self.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
            rel = self.describe(conn)
            self._check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            if since is not None:
                where.append(sql.SQL("{} > %s").format(sql.Identifier(self.watermark_column)))
                params.append(self._bind_timestamp(rel, since))
            query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(rel.ident, sql.SQL(" AND ").join(where))
            return conn.execute(query, params).fetchone()[0]

    def stream(
        self,
        columns: Sequence[str],
        account_id: int,
        inbox_ids: Sequence[int] | None = None,
        since: datetime | None = None,
        chunk_rows: int = 20_000,
        ordered: bool = True,
        wire: Mapping[str, int] | None = None,
    ) -> Iterator[list[tuple]]:
        """Rows of one tenant whose watermark is > `since` (all rows when None), as lists of
        at most `chunk_rows` tuples in `columns` order.

        One REPEATABLE READ, READ ONLY transaction and a server-side cursor: the source sends
        a chunk per FETCH, so memory holds at most three chunks whatever the tenant's size
        (docs/design.md, "Measurements behind the code"), and every chunk comes from the same
        snapshot. `ordered` sorts by (watermark, key): a consumer
        that commits per chunk can then advance its watermark chunk by chunk; a consumer that
        loads everything in one transaction can pass False and spare the source a sort.
        `wire` ({column: type oid} of some of `columns`, see SourceRelation.type_oids): those
        come undecoded, as bytes in the binary format of that type (its send function's
        output), which a binary COPY into a column of the same type reads as is: for values
        only moved into another PostgreSQL, decoding and re-encoding them costs more than
        reading them (text[] and numeric most). Text inside them is UTF-8.
        Raises SourceSchemaError (before reading anything) when a column is missing, or a wire
        column is not of the given type. Closing the generator early closes the cursor and
        returns the connection.
        """
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        columns = list(columns)
        wire = dict(wire or {})
        if not wire.keys() <= set(columns):
            raise ValueError(f"wire columns must be among the columns read: {sorted(wire.keys() - set(columns))}")
        with self.read_only_transaction() as conn:
            rel = self.describe(conn)
            self._check(rel, columns)
            for column, type_oid in wire.items():
                if rel.type_oids[column] != type_oid:
                    raise SourceSchemaError(
                        f"source relation {rel.qualified}: column {column!r} is {rel.columns[column]}, "
                        f"not the type (oid {type_oid}) it is read as undecoded"
                    )
            where, params = self._tenant_filter(account_id, inbox_ids)
            if since is not None:
                where.append(sql.SQL("{} > %s").format(sql.Identifier(self.watermark_column)))
                params.append(self._bind_timestamp(rel, since))
            query = sql.SQL("SELECT {cols} FROM {rel} WHERE {where}").format(
                cols=sql.SQL(", ").join(self._select_item(rel, c, c in wire) for c in columns),
                rel=rel.ident,
                where=sql.SQL(" AND ").join(where),
            )
            if ordered:
                query += sql.SQL(" ORDER BY {}, {}").format(
                    sql.Identifier(self.watermark_column), sql.Identifier(self.key_column)
                )
            yield from self._fetch_chunks(conn, query, params, chunk_rows)

    def stream_keys(
        self, account_id: int, inbox_ids: Sequence[int] | None = None, chunk_rows: int = 200_000
    ) -> Iterator[list[Any]]:
        """Every key of one tenant now in the source, in chunks (for deletion reconciliation).
        Only the key column is read: through the view that is an index or heap scan of
        conversations, the joins and the message count are planned away."""
        with self.read_only_transaction() as conn:
            rel = self.describe(conn)
            self._check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
                sql.Identifier(self.key_column), rel.ident, sql.SQL(" AND ").join(where)
            )
            for rows in self._fetch_chunks(conn, query, params, chunk_rows):
                yield [row[0] for row in rows]

    @staticmethod
    def _fetch_chunks(
        conn: psycopg.Connection, query: sql.Composable, params: Sequence[Any], chunk_rows: int
    ) -> Iterator[list[tuple]]:
        """DECLARE a server-side cursor for `query`, then FETCH up to `chunk_rows` at a time,
        one FETCH ahead of the consumer.

        psycopg keeps a FETCH result as raw libpq data until fetch*() turns it into Python
        rows. So a helper thread runs FETCH k+1 (the source computes and sends it, the thread
        waits without the GIL) while the consumer parses and uses chunk k: a plain FETCH loop
        would leave each side idle while the other works, at about half the source's COPY
        rate. At most three chunks exist at once (in flight, queued, with the consumer).
        The first FETCHes are small, doubling up to chunk_rows: a short read (an incremental
        run's few thousand rows) then reaches the consumer in pieces, each loaded while the
        source computes the next, instead of all at once at the end.
        Binary results: timestamps, numerics and arrays parse cheaper than from text.
        """
        name = sql.Identifier(f"vetorial_source_{uuid.uuid4().hex[:12]}")
        # Every row will be fetched: plan for the whole result (hash joins), not for the first
        # 10% a cursor is assumed to want by default (nested loops, an index probe per row:
        # slower through the Chatwoot view). Transaction-local, like the
        # other settings.
        conn.execute("SELECT set_config('cursor_tuple_fraction', '1', true)")
        conn.execute(sql.SQL("DECLARE {} NO SCROLL CURSOR FOR ").format(name) + query, params)

        def fetches() -> Iterator[psycopg.Cursor]:
            size = min(int(chunk_rows), _FIRST_FETCH)
            while True:
                cur = conn.cursor(binary=True)
                # Rows stay unparsed in the cursor until fetchmany().
                cur.execute(sql.SQL("FETCH FORWARD {} FROM {}").format(sql.Literal(size), name))
                # Read before handing the cursor over: the consumer closes it, and a closed
                # cursor's rowcount is -1 (which once ended reads after their first chunk).
                fetched = cur.rowcount
                yield cur
                if fetched < size:  # the cursor is exhausted
                    return
                size = min(size * 2, int(chunk_rows))

        # read_ahead joins the fetching thread before returning, so its FETCH is over before
        # the connection is rolled back and returned to the pool.
        for cur in read_ahead(fetches(), depth=1, name="source-db-fetch"):
            rows: list[tuple] = []
            while part := cur.fetchmany(_PARSE_SLICE):
                rows.extend(part)
            cur.close()
            if rows:
                yield rows
