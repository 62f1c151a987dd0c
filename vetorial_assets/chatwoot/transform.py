"""Source rows from vw_conversations_analytics_final -> raw.conversas_analytics rows (pure).

Timestamps: Chatwoot stores UTC; naive values are read as UTC and stored as timestamptz.
The local calendar date uses the IANA zone (zoneinfo), never a fixed -3h offset: Brazil
has had DST, and a hand offset silently breaks on old data.

Speed matters here (a full load is a million rows): the frame is built column by column
from the values the source driver produced, kept as Python objects (object columns) so the
loader hands them back to COPY as they are. Letting pandas infer dtypes and turning
timestamps into datetime64 and back cost more than extracting the rows. Only values that
are not already UTC-aware datetimes (naive ones, strings from other sources) go through
pandas' parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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


def _objects(values: Sequence) -> np.ndarray:
    # fromiter, not np.array: a column of lists (labels) must stay a column of lists.
    return np.fromiter(values, dtype=object, count=len(values))


def _to_utc(value) -> datetime | None:
    """Any timestamp-like value as an aware UTC datetime (naive = UTC); None when missing."""
    ts = pd.Timestamp(value) if not isinstance(value, pd.Timestamp) else value
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    return ts.to_pydatetime()


def _utc(values: Sequence) -> np.ndarray:
    out = _objects(values)
    for i, value in enumerate(out):
        # The driver's own values (aware, UTC) pass untouched; everything else is converted.
        if value is not None and not (type(value) is datetime and value.tzinfo is UTC):
            out[i] = _to_utc(value)
    return out


def _labels(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _local_dates(created: np.ndarray) -> np.ndarray:
    return _objects([None if ts is None else ts.astimezone(LOCAL_ZONE).date() for ts in created])


def to_raw_frame(rows: Sequence[tuple], columns: Sequence[str], tenant_id: str) -> pd.DataFrame:
    columns = list(columns)
    missing = [c for c in ("conversation_id", "account_id", "conversation_updated_at") if c not in columns]
    if missing:
        raise ValueError(f"source rows lack {', '.join(missing)}")
    n = len(rows)
    by_name = dict(zip(columns, zip(*rows))) if n else {c: () for c in columns}
    data: dict[str, np.ndarray] = {}
    for name in columns:
        values = by_name[name]
        if name in TIMESTAMP_COLUMNS:
            data[name] = _utc(values)
        elif name == "labels" and not all(v is None or type(v) is list for v in values):
            data[name] = _objects([_labels(v) for v in values])
        else:
            data[name] = _objects(values)
    updated = data["conversation_updated_at"]
    if any(v is None for v in updated):
        bad = [cid for cid, ts in zip(data["conversation_id"], updated) if ts is None][:5]
        raise ValueError(f"conversation_updated_at is NULL for conversation(s) {bad}: the watermark needs it")
    data["tenant_id"] = np.full(n, tenant_id, dtype=object)
    if "conversation_created_at" in data:
        data["conversation_date"] = _local_dates(data["conversation_created_at"])
    # Present in every batch: a conversation that reappears in the source is live again.
    data["deleted_at"] = np.full(n, None, dtype=object)
    return pd.DataFrame(data, copy=False)
