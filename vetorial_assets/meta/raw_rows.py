"""API rows -> `raw.meta_ads_insights` rows (pure: no I/O).

The payload is kept exactly as Meta sent it. When the page carries each row's JSON text
as received (`texts`, see resources.graph_client.PageRows), that text is what lands in
the JSONB column and what the content hash covers: Graph serializes a row the same way
on every pull, so an unchanged row hashes the same, and no row is serialized again.
Rows without their text (hand-made payloads) are serialized once in canonical form
(sorted keys, compact). Either way the JSONB value is the same: jsonb ignores key order
and spacing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

KEY_FIELDS = ("ad_id", "date_start", "publisher_platform", "platform_position")
RAW_COLUMNS = ("account_id", "data", "ad_id", "publisher_platform", "platform_position",
               "payload", "content_hash", "fetched_at")


def canonical_json(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def raw_rows(api_rows: Iterable[Mapping[str, Any]], account_id: str, first: date, last: date,
             fetched_at: datetime) -> dict[str, list]:
    """Column lists for the raw table; refuses rows outside the requested account or dates."""
    cols: dict[str, list] = {name: [] for name in RAW_COLUMNS}
    texts = getattr(api_rows, "texts", None)
    for index, row in enumerate(api_rows):
        missing = [f for f in KEY_FIELDS if not row.get(f)]
        if missing:
            raise ValueError(f"Meta insights row {index} for {account_id} lacks {', '.join(missing)}")
        day = date.fromisoformat(row["date_start"])
        if not first <= day <= last:
            raise ValueError(f"Meta returned {day} for {account_id}, outside the requested {first}..{last}")
        row_account = row.get("account_id")
        if row_account and f"act_{row_account}" != account_id and row_account != account_id:
            raise ValueError(f"Meta returned a row of account {row_account} when asked for {account_id}")
        payload = texts[index] if texts is not None else canonical_json(row)
        cols["account_id"].append(account_id)
        cols["data"].append(day)
        cols["ad_id"].append(str(row["ad_id"]))
        cols["publisher_platform"].append(row["publisher_platform"])
        cols["platform_position"].append(row["platform_position"])
        cols["payload"].append(payload)
        cols["content_hash"].append(hashlib.md5(payload.encode()).hexdigest())
        cols["fetched_at"].append(fetched_at)
    return cols
