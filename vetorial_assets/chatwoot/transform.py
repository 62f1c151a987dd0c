"""Source rows from vw_conversations_analytics_final -> raw.conversas_analytics rows (pure).

Timestamps: Chatwoot stores UTC; naive values are read as UTC and stored as timestamptz.
The local calendar date uses the IANA zone (zoneinfo), never a fixed -3h offset: Brazil
has had DST, and a hand offset silently breaks on old data.

Speed matters here (a full load is a million rows): the frame is one object array filled
from the values the source driver produced, kept as Python objects so the loader hands them
back to COPY as they are. Letting pandas infer dtypes and turning
timestamps into datetime64 and back cost more than extracting the rows. Only values that
are not already UTC-aware datetimes (naive ones, strings from other sources) go through
pandas' parser.

A value given as `bytes` is a column the source read undecoded (SourceDatabase.stream's
`wire`: the binary format of a type the warehouse column shares): it is passed on
untouched. The columns read here (DECODED_COLUMNS) must come decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..settings import DEFAULT_TIMEZONE

SOURCE_COLUMNS = (
    "conversation_id", "account_id", "inbox_id", "inbox_name", "channel_type", "contact_id", "contact_name",
    "contact_phone", "contact_email", "status", "assignee_id", "labels", "conversation_created_at",
    "conversation_updated_at", "first_response_at", "message_count", "is_lead", "visit_scheduled",
    "crm_converted", "ai_probability_label", "ai_probability_score",
)
TIMESTAMP_COLUMNS = ("conversation_created_at", "conversation_updated_at", "first_response_at")
LOCAL_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


_NONE = type(None)
_WIRE = {bytes, _NONE}
# Read here (keys, tenant, watermark, local date): never passed as wire bytes.
DECODED_COLUMNS = ("conversation_id", "account_id", "conversation_updated_at", "conversation_created_at")


def _objects(values: Iterable, n: int) -> np.ndarray:
    # fromiter, not np.array: a column of lists (labels) must stay a column of lists.
    return np.fromiter(values, dtype=object, count=n)


def _to_utc(value) -> datetime | None:
    """Any timestamp-like value as an aware UTC datetime (naive = UTC); None when missing."""
    ts = value if isinstance(value, pd.Timestamp) else pd.Timestamp(value)
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    return ts.to_pydatetime()


def _utc(values: np.ndarray) -> np.ndarray:
    # The driver's own values (aware datetimes in UTC) pass untouched; this check runs in C
    # (map/set), not a Python loop per value. Anything else is converted value by value.
    types = set(map(type, values))
    if types <= _WIRE:
        return values  # a binary timestamptz is an instant: nothing to convert
    if types <= {datetime, _NONE}:
        present = values[values != None] if _NONE in types else values  # noqa: E711 (elementwise)
        if set(map(attrgetter("tzinfo"), present)) <= {UTC}:
            return values
    return _objects(map(_to_utc, values), len(values))


def _labels(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _local_dates(created: np.ndarray) -> np.ndarray:
    return _objects((None if ts is None else ts.astimezone(LOCAL_ZONE).date() for ts in created), len(created))


def to_raw_frame(rows: Sequence[tuple], columns: Sequence[str], tenant_id: str) -> pd.DataFrame:
    columns = list(columns)
    missing = [c for c in ("conversation_id", "account_id", "conversation_updated_at") if c not in columns]
    if missing:
        raise ValueError(f"source rows lack {', '.join(missing)}")
    n, k = len(rows), len(columns)
    if n and set(map(len, rows)) != {k}:
        raise ValueError(f"source rows must have {k} values ({', '.join(columns)})")
    names = [*columns, "tenant_id", "conversation_date", "deleted_at"]
    # One object array, row-major like the source rows: filled in one pass in C (no
    # transposing), then fixed column by column through views.
    out = np.empty((n, len(names)), dtype=object)
    out[:, :k] = _objects(chain.from_iterable(rows), n * k).reshape(n, k)
    for j, name in enumerate(columns):
        values = out[:, j]
        if name in TIMESTAMP_COLUMNS:
            converted = _utc(values)
            if converted is not values:
                out[:, j] = converted
        elif name == "labels" and not set(map(type, values)) <= {list, bytes, _NONE}:
            out[:, j] = _objects(map(_labels, values), n)
    updated = out[:, columns.index("conversation_updated_at")]
    if None in updated.tolist():
        ids = out[:, columns.index("conversation_id")]
        bad = [cid for cid, ts in zip(ids, updated) if ts is None][:5]
        raise ValueError(f"conversation_updated_at is NULL for conversation(s) {bad}: the watermark needs it")
    out[:, k] = tenant_id
    if "conversation_created_at" in columns:
        out[:, k + 1] = _local_dates(out[:, columns.index("conversation_created_at")])
    else:
        names.remove("conversation_date")
        out = np.delete(out, k + 1, axis=1)
    # Present in every batch: a conversation that reappears in the source is live again.
    out[:, -1] = None
    # dtype=object: without it pandas would re-infer columns (datetimes -> datetime64).
    return pd.DataFrame(out, columns=names, dtype=object, copy=False)
