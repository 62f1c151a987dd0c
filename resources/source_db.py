"""`SourceDatabase`: the `source_db` resource, read-only access to the Chatwoot database the
conversations come from.

A thin resource: its fields are the configuration, the reading is `SourceReader`'s
(resources/source/: read-only sessions, schema checks, chunked streams). The URL holds a
password: configure it with EnvVar; it is only ever shown through `safe_url()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine

from resources.source.errors import SourceConnectionError
from resources.source.reader import SourceReader
from resources.source.relation import SourceColumns, SourceRelation, WriteAccess
from resources.source.session import SessionOptions

# The reader's defaults are the resource's: one place says what they are.
_COLUMNS, _SESSION = SourceColumns(), SessionOptions()


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
    key_column: str = _COLUMNS.key_column
    watermark_column: str = _COLUMNS.watermark_column
    account_column: str = _COLUMNS.account_column
    inbox_column: str = _COLUMNS.inbox_column
    source_timezone: str = Field(
        default="UTC", description="Zone of `timestamp without time zone` columns (Chatwoot writes UTC)."
    )
    pool_size: int = _SESSION.pool_size
    max_overflow: int = _SESSION.max_overflow
    pool_timeout: float = Field(default=_SESSION.pool_timeout, description="Seconds to wait for a pooled connection.")
    pool_recycle: int = Field(
        default=_SESSION.pool_recycle, description="Reconnect connections older than this (seconds)."
    )
    pool_pre_ping: bool = _SESSION.pool_pre_ping
    connect_timeout: int = Field(default=_SESSION.connect_timeout, description="Seconds to establish a connection.")
    statement_timeout_ms: int = Field(
        default=_SESSION.statement_timeout_ms, description="Per statement (each FETCH of a stream is one); 0 disables."
    )
    lock_timeout_ms: int = Field(
        default=_SESSION.lock_timeout_ms,
        description="Give up instead of queueing behind a migration's lock; 0 disables.",
    )
    application_name: str = _SESSION.application_name
    read_only_session: bool = Field(
        default=_SESSION.read_only_session,
        description="Start sessions with default_transaction_read_only=on "
        "(a startup option). Turn off only behind a pooler "
        "that refuses the `options` startup parameter; the "
        "read-only role then is the only guard.",
    )

    _reader: SourceReader | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        raise SourceConnectionError("no Chatwoot database configured: set VETORIAL_CHATWOOT_URL")

    @property
    def reader(self) -> SourceReader:
        """The reader this configuration describes (built on first use, not when definitions load)."""
        if self._reader is None:
            self._reader = SourceReader(
                self.resolved_url(),
                self.relation,
                columns=SourceColumns(**self._options_of(SourceColumns)),
                source_timezone=self.source_timezone,
                session=SessionOptions(**self._options_of(SessionOptions)),
            )
        return self._reader

    def _options_of(self, options: type) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(options)}

    # ------------------------------------------------------------------ the reader's, delegated

    def safe_url(self) -> str:
        return self.reader.pool.safe_url()

    def redact(self, text: str) -> str:
        """`text` without this source's password (for stored errors and tracebacks)."""
        return self.reader.pool.redact(text)

    @property
    def engine(self) -> Engine:
        return self.reader.pool.engine

    def dispose(self) -> None:
        """Close the pooled connections and forget the engine (tests; processes that are done
        with this source)."""
        if self._reader is not None:
            self._reader.pool.dispose()

    def read_only_transaction(
        self, isolation: psycopg.IsolationLevel = psycopg.IsolationLevel.REPEATABLE_READ
    ) -> AbstractContextManager[psycopg.Connection]:
        return self.reader.pool.read_only_transaction(isolation)

    def describe(self, conn: psycopg.Connection | None = None) -> SourceRelation:
        return self.reader.describe(conn)

    def verify_schema(self, required: Sequence[str], rel: SourceRelation | None = None) -> list[str]:
        return self.reader.verify_schema(required, rel)

    def write_access(self) -> WriteAccess:
        return self.reader.write_access()

    def max_watermark(self, account_id: int, inbox_ids: Sequence[int] | None = None) -> datetime | None:
        return self.reader.max_watermark(account_id, inbox_ids)

    def count(self, account_id: int, inbox_ids: Sequence[int] | None = None, since: datetime | None = None) -> int:
        return self.reader.count(account_id, inbox_ids, since)

    def stream(self, columns: Sequence[str], account_id: int, *args: Any, **kwargs: Any) -> Iterator[list[tuple]]:
        """SourceReader.stream, with its arguments: one tenant's rows in chunks."""
        # A generator itself, as the reader's is: nothing happens before the first chunk.
        yield from self.reader.stream(columns, account_id, *args, **kwargs)

    def stream_keys(
        self, account_id: int, inbox_ids: Sequence[int] | None = None, chunk_rows: int = 200_000
    ) -> Iterator[list[Any]]:
        yield from self.reader.stream_keys(account_id, inbox_ids, chunk_rows)
