"""API rows -> `raw.meta_ads_insights` rows (pure: no I/O).

The payload is kept exactly as Meta sent it. When the page carries each row's JSON text
as received (`texts`, see vetorial_assets.meta.graph.client.PageRows), that text is what lands in
the JSONB column and what the content hash covers: Graph serializes a row the same way
on every pull, so an unchanged row hashes the same, and no row is serialized again.
Rows without their text (hand-made payloads) are serialized once in canonical form
(sorted keys, compact). Either way the JSONB value is the same: jsonb ignores key order
and spacing.

A row raw cannot key (a key field missing, a date that is not one) or that is not of the
requested account and dates is left out and described in `rejected` when a list is given
(the asset records it in ops.rejected_values; the rest of the range lands), else raises
ValueError naming its ad_id and date.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from .cleaner import RejectedRow, row_key
from .graph.client import PageRows

KEY_FIELDS = ("ad_id", "date_start", "publisher_platform", "platform_position")
RAW_COLUMNS = (
    "account_id",
    "data",
    "ad_id",
    "publisher_platform",
    "platform_position",
    "payload",
    "content_hash",
    "fetched_at",
)


def canonical_json(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _problem(row: Any, account_id: str, first: date, last: date) -> tuple[str, str, Any] | None:
    """(field, reason, value) of the first rule `row` breaks, or None; else its day."""
    if not isinstance(row, Mapping):
        return "row", f"expected an object, got {type(row).__name__}", row
    missing = [f for f in KEY_FIELDS if not row.get(f)]
    if missing:
        return missing[0], f"lacks {', '.join(missing)}", None
    for field in KEY_FIELDS:
        value = row[field]
        if not isinstance(value, str) and (not isinstance(value, int) or isinstance(value, bool)):
            # str() would store "['1']" or "True" as the key: what Meta meant is unknowable.
            return field, f"key field {field!r} must be a string, got {type(value).__name__}", value
    text = row["date_start"]
    try:
        day = date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None:
        return "date_start", f"date_start {text!r} is not a YYYY-MM-DD date", text
    if not first <= day <= last:
        return "date_start", f"Meta returned {day}, outside the requested {first}..{last}", text
    row_account = row.get("account_id")
    if row_account and f"act_{row_account}" != account_id and row_account != account_id:
        return "account_id", f"a row of account {row_account} when {account_id} was asked for", row_account
    return None


def raw_rows(
    api_rows: Iterable[Mapping[str, Any]],
    account_id: str,
    first: date,
    last: date,
    fetched_at: datetime,
    rejected: list[RejectedRow] | None = None,
) -> dict[str, list]:
    """Column lists for the raw table; rows outside the requested account or dates, or
    without a key, are left out into `rejected` (or, without it, raise ValueError)."""
    if not isinstance(api_rows, list):
        # A page whose `data` is an object or a string would be read key by key, or
        # character by character, as rows; a number would fail with a bare TypeError.
        raise ValueError(
            f"Meta insights for {account_id} {first}..{last}: a page's 'data' is a "
            f"{type(api_rows).__name__}, not a list of rows"
        )
    cols: dict[str, list] = {name: [] for name in RAW_COLUMNS}
    # The rows exactly as Graph sent them, when the page came from the client (PageRows).
    texts = api_rows.texts if isinstance(api_rows, PageRows) else None
    for index, row in enumerate(api_rows):
        problem = _problem(row, account_id, first, last)
        if problem is not None:
            field, reason, value = problem
            key = row_key(row) or {"row": index}
            if "account_id" in key:
                key["account_id"] = account_id  # raw's key: the requested account
            bad = RejectedRow(index, key, field, reason, value)
            if rejected is None:
                raise ValueError(f"Meta insights for {account_id}: {bad.message()}")
            rejected.append(bad)
            continue
        day = date.fromisoformat(row["date_start"])
        payload = texts[index] if texts is not None else canonical_json(row)
        cols["account_id"].append(account_id)
        cols["data"].append(day)
        cols["ad_id"].append(str(row["ad_id"]))
        cols["publisher_platform"].append(str(row["publisher_platform"]))
        cols["platform_position"].append(str(row["platform_position"]))
        cols["payload"].append(payload)
        # surrogatepass: a lone surrogate in a hand-made row must not fail the hash; the load
        # path refuses that payload (not UTF-8) and records its row.
        cols["content_hash"].append(hashlib.md5(payload.encode("utf-8", "surrogatepass")).hexdigest())
        cols["fetched_at"].append(fetched_at)
    return cols
