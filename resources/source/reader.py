"""`SourceReader`: reads one relation of the Chatwoot database (by default Chatwoot's
`vw_conversations_analytics_final`), whose name, key, watermark and tenant columns are
configuration, only through read-only sessions (session.py).

- `verify_schema` compares the relation with what the ETL needs (relation.py).
- `max_watermark` is the sensor's cheap probe: an ORDER BY ... DESC LIMIT 1 that an index on
  (account_id, updated_at) answers without scanning the tenant.
- `stream` reads rows from a server-side cursor in chunks, inside one REPEATABLE READ
  snapshot: memory stays flat whatever the source size, and the rows are consistent.
  Columns the caller only moves into another PostgreSQL can be read undecoded ("wire"):
  bytes in their type's binary format, which a binary COPY of the same type takes as is.

Timestamps always come out as aware datetimes in UTC. Chatwoot stores UTC in `timestamp
without time zone`; a relation exposing such columns is read AT TIME ZONE
`source_timezone` (UTC by default) in SQL, and watermarks are compared in the column's own
type so the index stays usable.

What a real source needs: Chatwoot ships no index on conversations.updated_at, so without
one the probe and every incremental read scan the whole account. Create (CONCURRENTLY) an
index on conversations (account_id, <the expression the view exposes as the watermark>),
e.g. `(account_id, (updated_at AT TIME ZONE 'UTC'))` for the sandbox's view, or
`(account_id, updated_at)` when the view exposes the raw column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources as pkg_resources
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from ..support.read_ahead import read_ahead
from .errors import SourceSchemaError
from .relation import TIMESTAMP, SourceColumns, SourceRelation, WriteAccess, describe
from .session import ReadOnlyPool, SessionOptions

# Rows parsed per call: psycopg holds the GIL for a whole call, and the fetch thread needs it
# now and then to drain the socket, or the source stalls on a full buffer mid-chunk.
_PARSE_SLICE = 2_000
# Rows of a stream's first FETCH; each next one asks twice as many, up to chunk_rows.
_FIRST_FETCH = 500


def _sql(name: str) -> str:
    return pkg_resources.files("resources.source").joinpath("sql", name).read_text(encoding="utf-8")


class SourceReader:
    """Read-only access to the source relation `relation` of the database at `url`."""

    def __init__(
        self,
        url: str,
        relation: str,
        columns: SourceColumns | None = None,
        source_timezone: str = "UTC",
        session: SessionOptions | None = None,
    ):
        self.relation = relation
        self.columns = columns or SourceColumns()
        self.source_timezone = source_timezone
        self.pool = ReadOnlyPool(url, relation, session)

    # ------------------------------------------------------------------ schema

    def describe(self, conn: psycopg.Connection | None = None) -> SourceRelation:
        """The relation as the catalog describes it (relation.describe), read on `conn` or in a
        transaction of its own. Raises SourceSchemaError when it does not exist."""
        if conn is None:
            with self.pool.read_only_transaction() as own:
                return self.describe(own)
        return describe(conn, self.relation, self.pool.safe_url())

    def verify_schema(self, required: Sequence[str], rel: SourceRelation | None = None) -> list[str]:
        """Check the relation (`rel`: as already described) has every `required` column (plus
        key, watermark and tenant columns). Raises SourceSchemaError naming all missing ones at
        once; returns the columns the source has beyond those, e.g. new ones to consider (the
        caller reports them, once: the sync as a run warning, doctor in its report)."""
        rel = rel or self.describe()
        self.columns.check(rel, required)
        wanted = set(self.columns.required(required))
        return [c for c in rel.columns if c not in wanted]

    def write_access(self) -> WriteAccess:
        """Whether the configured role could write to the relation or the tables it reads
        (through views, recursively): superuser, or any INSERT/UPDATE/DELETE/TRUNCATE grant.
        The read-only session stops accidents; only a role without these stops intent."""
        with self.pool.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
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
        if rel.columns[column] == TIMESTAMP:
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
        if rel.columns[self.columns.watermark_column] == TIMESTAMP:
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
        where: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(self.columns.account_column))]
        params: list[Any] = [int(account_id)]
        if inbox_ids:
            where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(self.columns.inbox_column)))
            params.append([int(i) for i in inbox_ids])
        return where, params

    def max_watermark(self, account_id: int, inbox_ids: Sequence[int] | None = None) -> datetime | None:
        """The newest watermark value of one tenant in the source (aware, UTC), or None when
        the tenant has no rows. Written as ORDER BY ... DESC LIMIT 1, not max(): PostgreSQL
        turns max() into an index probe only over a single table, not through a view's joins."""
        with self.pool.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
            rel = self.describe(conn)
            self.columns.check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            wm = sql.Identifier(self.columns.watermark_column)
            where.append(sql.SQL("{} IS NOT NULL").format(wm))
            query = sql.SQL("SELECT {wm} FROM {rel} WHERE {where} ORDER BY {wm} DESC LIMIT 1").format(
                wm=wm, rel=rel.ident, where=sql.SQL(" AND ").join(where)
            )
            row = conn.execute(query, params).fetchone()
            return self._as_utc(row[0]) if row else None

    def count(self, account_id: int, inbox_ids: Sequence[int] | None = None, since: datetime | None = None) -> int:
        """How many rows of one tenant (after `since`, when given) the source has now."""
        with self.pool.read_only_transaction(psycopg.IsolationLevel.READ_COMMITTED) as conn:
            rel = self.describe(conn)
            self.columns.check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            if since is not None:
                where.append(sql.SQL("{} > %s").format(sql.Identifier(self.columns.watermark_column)))
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
        with self.pool.read_only_transaction() as conn:
            rel = self.describe(conn)
            self.columns.check(rel, columns)
            for column, type_oid in wire.items():
                if rel.type_oids[column] != type_oid:
                    raise SourceSchemaError(
                        f"source relation {rel.qualified}: column {column!r} is {rel.columns[column]}, "
                        f"not the type (oid {type_oid}) it is read as undecoded"
                    )
            where, params = self._tenant_filter(account_id, inbox_ids)
            if since is not None:
                where.append(sql.SQL("{} > %s").format(sql.Identifier(self.columns.watermark_column)))
                params.append(self._bind_timestamp(rel, since))
            query = sql.SQL("SELECT {cols} FROM {rel} WHERE {where}").format(
                cols=sql.SQL(", ").join(self._select_item(rel, c, c in wire) for c in columns),
                rel=rel.ident,
                where=sql.SQL(" AND ").join(where),
            )
            if ordered:
                query += sql.SQL(" ORDER BY {}, {}").format(
                    sql.Identifier(self.columns.watermark_column), sql.Identifier(self.columns.key_column)
                )
            yield from _fetch_chunks(conn, query, params, chunk_rows)

    def stream_keys(
        self, account_id: int, inbox_ids: Sequence[int] | None = None, chunk_rows: int = 200_000
    ) -> Iterator[list[Any]]:
        """Every key of one tenant now in the source, in chunks (for deletion reconciliation).
        Only the key column is read: through the view that is an index or heap scan of
        conversations, the joins and the message count are planned away."""
        with self.pool.read_only_transaction() as conn:
            rel = self.describe(conn)
            self.columns.check(rel, ())
            where, params = self._tenant_filter(account_id, inbox_ids)
            query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
                sql.Identifier(self.columns.key_column), rel.ident, sql.SQL(" AND ").join(where)
            )
            for rows in _fetch_chunks(conn, query, params, chunk_rows):
                yield [row[0] for row in rows]


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
