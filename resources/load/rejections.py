"""Values the warehouse cannot store: what is recorded about them, and where.

A value a column cannot hold takes nothing else with it: outside the key and the NOT NULL
columns it is stored as NULL (`nulled`); in the key or a NOT NULL column its row is left
out (`row_skipped`). Either way one row of `ops.rejected_values` says which table, key,
column, why, and what the value was (personal data masked, anything else cut to a
readable length), written in the transaction of the load it belongs to: a rollback drops
both. The load path finds most of them (resources/load/value_checks.py); producers that parse
before it (the Meta cleaner, the Instagram parser) add theirs to the same `Quarantine`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .value_checks import int_text

NULLED = "nulled"
ROW_SKIPPED = "row_skipped"
VALUE_CHARS = 200  # stored characters of a rejected value (the reason says how long it was)


def _printable(text: str) -> str:
    """Text PostgreSQL can store: NUL and unpaired surrogates spelled out."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_value(value: Any, pii: bool = False) -> str | None:
    """The value as recorded: masked when personal data, else its text cut to VALUE_CHARS."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = int_text(value)  # str() refuses more than 4,300 digits
    elif isinstance(value, (float, Decimal)):
        text = str(value)
    else:
        text = repr(value)
    if pii:
        return f"<masked {type(value).__name__}: {len(text)} characters>"
    length = len(text)
    text = _printable(text)
    if len(text) > VALUE_CHARS:
        return f"{text[:VALUE_CHARS]}… ({length} characters)"
    return text


def _key_value(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else int_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return shown_value(value)
    return shown_value(value)


def key_json(key: Mapping[str, Any]) -> dict[str, Any]:
    """The row's key as JSON-safe values (text cut short, NUL spelled out)."""
    return {str(name): _key_value(value) for name, value in key.items()}


@dataclass(frozen=True)
class Rejection:
    table: str
    key: Mapping[str, Any]
    column: str
    reason: str
    value: str | None  # as shown_value() renders it
    action: str  # NULLED | ROW_SKIPPED

    def describe(self) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in key_json(self.key).items()) or "no key"
        outcome = "stored as NULL" if self.action == NULLED else "row left out"
        return f"{self.table} ({key}) column {self.column}: {self.reason} [{outcome}]"


@dataclass
class Quarantine:
    """Who is loading (recorded with every rejection) and the rejections producers found
    before the load path saw the rows; the load records those with its own."""

    source: str  # the asset key, e.g. raw/conversas_analytics
    partition: str | None = None  # tenant id, or the account of a date-range partition
    run_id: str | None = None
    found: list[Rejection] = field(default_factory=list)

    def skip_row(
        self, table: str, key: Mapping[str, Any], column: str, reason: str, value: Any = None, pii: bool = False
    ) -> None:
        self.found.append(Rejection(table, dict(key), column, reason, shown_value(value, pii), ROW_SKIPPED))

    def take_found(self) -> list[Rejection]:
        found, self.found = self.found, []
        return found


_COPY = (
    "COPY ops.rejected_values (run_id, source, partition, table_name, row_key, column_name, reason, value, "
    "action) FROM STDIN (FORMAT BINARY)"
)
_TYPES = ["text", "text", "text", "text", "jsonb", "text", "text", "text", "text"]


class RejectionsNotRecorded(RuntimeError):
    """ops.rejected_values is missing: the rejections cannot be kept, so the load fails."""


def record(conn: psycopg.Connection, quarantine: Quarantine | None, rejections: list[Rejection], source: str) -> None:
    """Write `rejections` into ops.rejected_values on `conn` (the load's transaction)."""
    if not rejections:
        return
    q = quarantine or Quarantine(source)
    try:
        with conn.cursor().copy(_COPY) as copy:
            copy.set_types(_TYPES)
            for r in rejections:
                copy.write_row(
                    (
                        q.run_id,
                        q.source,
                        q.partition,
                        r.table,
                        Jsonb(key_json(r.key)),
                        r.column,
                        _printable(r.reason),
                        r.value,
                        r.action,
                    )
                )
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        raise RejectionsNotRecorded(
            f"{len(rejections)} value(s) could not be stored and ops.rejected_values does not exist "
            f"(was the warehouse schema created?); first: {rejections[0].describe()}"
        ) from None


def summary(table: str, rejections: list[Rejection], nulled: int, skipped: int, shown: int = 3) -> str:
    """One log line for a load's rejections: the counts and the first few, each naming
    table, key and column."""
    first = "; ".join(r.describe() for r in rejections[:shown])
    return (
        f"{table}: {nulled} value(s) stored as NULL and {skipped} row(s) left out, recorded in "
        f"ops.rejected_values; {first}"
    )
