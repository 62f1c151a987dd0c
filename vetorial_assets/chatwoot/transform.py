"""Source rows from vw_conversations_analytics_final -> raw.conversas_analytics rows (pure).

Timestamps: Chatwoot stores UTC; naive values are read as UTC and stored as timestamptz.
The local calendar date uses the IANA zone (zoneinfo), never a fixed -3h offset: Brazil
has had DST, and a hand offset silently breaks on old data.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

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


def _utc(series: pd.Series) -> pd.Series:
    converted = pd.to_datetime(series, utc=True)  # naive -> UTC, aware -> converted to UTC
    return converted


def _labels(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def to_raw_frame(rows: Sequence[tuple], columns: Sequence[str], tenant_id: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    missing = [c for c in ("conversation_id", "account_id", "conversation_updated_at") if c not in frame]
    if missing:
        raise ValueError(f"source rows lack {', '.join(missing)}")
    for name in TIMESTAMP_COLUMNS:
        if name in frame:
            frame[name] = _utc(frame[name])
    if frame["conversation_updated_at"].isna().any():
        bad = frame.loc[frame["conversation_updated_at"].isna(), "conversation_id"].head(5).tolist()
        raise ValueError(f"conversation_updated_at is NULL for conversation(s) {bad}: the watermark needs it")
    if "labels" in frame:
        frame["labels"] = frame["labels"].map(_labels)
    frame["tenant_id"] = tenant_id
    created = frame.get("conversation_created_at")
    if created is not None:
        frame["conversation_date"] = created.dt.tz_convert(LOCAL_ZONE).dt.tz_localize(None).dt.normalize()
    # Present in every batch: a conversation that reappears in the source is live again.
    frame["deleted_at"] = pd.Series([None] * len(frame), dtype=object)
    return frame
