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

Nothing here fails a tenant for one bad value: a column whose source type differs from the
warehouse's is converted value by value where it can be (`coerce`, from
chatwoot/source_types.py), and a value that cannot (a NULL key, a timestamp that is not
one) is passed on as it is, for the load path to refuse, record and leave out (or NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..settings import DEFAULT_TIMEZONE

SOURCE_COLUMNS = (
    "conversation_id",
    "account_id",
    "inbox_id",
    "inbox_name",
    "channel_type",
    "contact_id",
    "contact_name",
    "contact_phone",
    "contact_email",
    "status",
    "assignee_id",
    "labels",
    "conversation_created_at",
    "conversation_updated_at",
    "first_response_at",
    "message_count",
    "is_lead",
    "visit_scheduled",
    "crm_converted",
    "ai_probability_label",
    "ai_probability_score",
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


def _to_utc(value):
    """A timestamp (datetime, ISO 8601 text) as an aware UTC datetime (naive = UTC); None when
    missing. Anything else, or text that is no ISO 8601 timestamp, is returned as it is: the
    load path refuses it for the row (a number would otherwise be read as nanoseconds).

    Text is read as ISO 8601 only: pandas' parser also reads "now" and "today" as the
    current time (which would move the watermark past rows not read yet), "5:30" as today
    and "1/2/2024" as January 2nd (the 1st of February in Brazil)."""
    if value is None or not isinstance(value, (str, datetime, np.datetime64)):
        return value
    try:
        if isinstance(value, str):
            ts = datetime.fromisoformat(value.strip())
        elif isinstance(value, np.datetime64):
            ts = pd.Timestamp(value)
            if ts is pd.NaT:
                return None
            ts = ts.to_pydatetime()
        else:
            ts = value
        out = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, TypeError, OverflowError):  # no timestamp, or past year 1..9999 in UTC
        return value
    return out.to_pydatetime() if isinstance(out, pd.Timestamp) else out


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
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return value  # not labels: the load path refuses it


def _local_date(ts):
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        return None
    try:
        return ts.astimezone(LOCAL_ZONE).date()
    except OverflowError:  # 0001-01-01 in UTC is still year 0 in Sao Paulo: no Python date
        return None


def _local_dates(created: np.ndarray) -> np.ndarray:
    return _objects(map(_local_date, created), len(created))


def newest(values: np.ndarray) -> datetime | None:
    """The newest aware timestamp among `values` (the chunk's watermark candidate); values
    that are none (NULL, or refused by the load path) do not count."""
    try:
        found = values.max() if len(values) else None
        if found is None or (isinstance(found, datetime) and found.tzinfo is not None):
            return found
    except TypeError:
        pass
    present = [v for v in values.tolist() if isinstance(v, datetime) and v.tzinfo is not None]
    return max(present, default=None)


def int_keys(values: np.ndarray) -> np.ndarray:
    """The keys that are bigint values, as int64 (a NULL or bad key is no key: its row is
    left out by the load path, and no stored row can have it)."""
    if set(map(type, values)) <= {int}:
        try:
            return values.astype(np.int64)
        except OverflowError:
            pass
    return np.array([v for v in values.tolist() if type(v) is int and -(2**63) <= v < 2**63], dtype=np.int64)


def to_raw_frame(
    rows: Sequence[tuple],
    columns: Sequence[str],
    tenant_id: str,
    coerce: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> pd.DataFrame:
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
        if coerce and name in coerce:
            out[:, j] = coerce[name](values)
            values = out[:, j]
        if name in TIMESTAMP_COLUMNS:
            converted = _utc(values)
            if converted is not values:
                out[:, j] = converted
        elif name == "labels" and not set(map(type, values)) <= {list, bytes, _NONE}:
            out[:, j] = _objects(map(_labels, values), n)
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
