"""Raw Meta Ads insight rows -> the `staging.insights_meta_ads` frame (pure rules, no I/O).

Input: the row dicts the Graph API returns for level=ad, time_increment=1, breakdowns
publisher_platform+platform_position, action_breakdowns action_type (numbers arrive as
strings). Every rule below is explained, with its source, in docs/business-rules.md.

Speed matters (a 90-day backfill is ~324k rows): one plain-Python pass pulls the actions
out into per-type lists, everything else is vectorised numpy/pandas. No per-row `apply`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

# -- the staging contract (column order = table order) ---------------------------------

TEXT_COLUMNS = (
    "account_id",
    "account_name",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "plataforma",
    "posicionamento",
)
COUNT_COLUMNS = (
    "impressoes",
    "alcance",
    "cliques",
    "leads_formulario",
    "leads_site",
    "leads_mensagem",
    "leads_total",
    "seguidores_instagram",
)
RATIO_COLUMNS = ("ctr", "cpc", "cpl")

STAGING_COLUMNS = (
    "hash_id",
    "data",
    *TEXT_COLUMNS,
    "valor_gasto",
    *COUNT_COLUMNS,
    *RATIO_COLUMNS,
)
# Appended after STAGING_COLUMNS only when clean_insights() is given fetched_at.
FETCHED_AT_COLUMN = "fetched_at"

# API field -> staging column for the plain text fields.
_TEXT_FIELDS = {
    "account_id": "account_id",
    "account_name": "account_name",
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "adset_id": "adset_id",
    "adset_name": "adset_name",
    "ad_id": "ad_id",
    "ad_name": "ad_name",
    "publisher_platform": "plataforma",
    "platform_position": "posicionamento",
}
# Without these a row has no identity (they make hash_id): bad input, not a zero.
KEY_FIELDS = ("ad_id", "date_start", "publisher_platform", "platform_position")

# -- Meta action types used by the rules (Ads Action Stats reference, v24) --------------

LINK_CLICK = "link_click"
LEAD = "lead"  # grouped: "All offsite leads plus all On-Facebook leads"
LEAD_ON_FACEBOOK = "onsite_conversion.lead_grouped"  # grouped: "All On-Facebook Leads"
LEAD_PIXEL = "offsite_conversion.fb_pixel_lead"  # website (pixel / Conversions API) leads
MESSAGING_FIRST_REPLY = "onsite_conversion.messaging_first_reply"  # new messaging conversations
IG_FOLLOWER_COUNT_TOTAL = "instagram_follower_count_total"  # seed's first choice
POST_SAVE_FOLLOW = "onsite_conversion.post_save_follow"  # seed's second choice

_ACTION_TYPES = (
    LINK_CLICK,
    LEAD,
    LEAD_ON_FACEBOOK,
    LEAD_PIXEL,
    MESSAGING_FIRST_REPLY,
    IG_FOLLOWER_COUNT_TOTAL,
    POST_SAVE_FOLLOW,
)
_ACTION_SLOT = {t: i for i, t in enumerate(_ACTION_TYPES)}

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def clean_insights(
    rows: Iterable[dict[str, Any]],
    fetched_at: datetime | Sequence[datetime] | None = None,
) -> pd.DataFrame:
    """Clean raw insight rows into the staging frame (columns = STAGING_COLUMNS).

    fetched_at: optional; one datetime for every row or one per row. When given, a
    `fetched_at` column (UTC, naive values read as UTC) is appended after the contract.

    Raises ValueError, naming the field and row index, for a row that is not a dict,
    lacks a key field, has a malformed date, a non-list `actions`, or when two rows
    share a hash_id (nothing is deduplicated silently).
    """
    rows = rows if isinstance(rows, list) else list(rows)
    n = len(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"insight row {i}: expected a dict, got {type(row).__name__}")

    # Identity first: a row we cannot key is an error, whatever its numbers say.
    text = {field: _text_column(rows, field) for field in (*_TEXT_FIELDS, "date_start")}
    for field in KEY_FIELDS:
        _require(text[field], field)
    days = text.pop("date_start")
    day_values = _parse_days(days)
    _check_daily(rows, days)

    hashes = [
        hashlib.md5((a + d + p + q).encode()).hexdigest()
        for a, d, p, q in zip(
            text["ad_id"], days, text["publisher_platform"], text["platform_position"]
        )
    ]
    _refuse_duplicates(hashes, text, days)

    actions = _extract_actions(rows)
    link_click = _counts(actions[_ACTION_SLOT[LINK_CLICK]])
    lead = _counts(actions[_ACTION_SLOT[LEAD]])
    lead_on_facebook = _counts(actions[_ACTION_SLOT[LEAD_ON_FACEBOOK]])
    lead_pixel = _counts(actions[_ACTION_SLOT[LEAD_PIXEL]])
    messaging = _counts(actions[_ACTION_SLOT[MESSAGING_FIRST_REPLY]])
    ig_total_raw = _numbers(actions[_ACTION_SLOT[IG_FOLLOWER_COUNT_TOTAL]])
    post_save_follow = _counts(actions[_ACTION_SLOT[POST_SAVE_FOLLOW]])
    del actions

    spend = np.round(_clean_numbers(_numbers([r.get("spend") for r in rows])), 2)
    impressions = _counts([r.get("impressions") for r in rows])
    reach = _counts([r.get("reach") for r in rows])
    inline_link_clicks = _counts([r.get("inline_link_clicks") for r in rows])

    # Seed v2.0: link clicks = inline_link_clicks + link_click action; post_engagement
    # (likes, comments) is never a click.
    clicks = inline_link_clicks + link_click
    # `lead` already contains lead_grouped + pixel leads (Meta's grouped action types),
    # so origins are split out of it instead of added to it; see docs/business-rules.md.
    leads_form = lead_on_facebook
    leads_site = np.maximum(lead - lead_on_facebook, lead_pixel)
    leads_total = leads_form + leads_site + messaging
    # Seed: instagram_follower_count_total has priority; post_save_follow is the fallback.
    # Facebook Page likes (`like`) are never Instagram followers.
    followers = np.where(
        np.isnan(ig_total_raw), post_save_follow, _clean_counts(ig_total_raw)
    ).astype(np.int64)

    columns: dict[str, Any] = {}
    columns["hash_id"] = _object_array(hashes)
    columns["data"] = day_values
    for field, name in _TEXT_FIELDS.items():
        columns[name] = _object_array(text[field])
    columns["valor_gasto"] = spend
    columns["impressoes"] = impressions
    columns["alcance"] = reach
    columns["cliques"] = clicks
    columns["leads_formulario"] = leads_form
    columns["leads_site"] = leads_site
    columns["leads_mensagem"] = messaging
    columns["leads_total"] = leads_total
    columns["seguidores_instagram"] = followers
    columns["ctr"] = _ratio(clicks * 100.0, impressions)
    columns["cpc"] = _ratio(spend, clicks)
    columns["cpl"] = _ratio(spend, leads_total)
    frame = pd.DataFrame(columns, columns=list(STAGING_COLUMNS), copy=False)
    if fetched_at is not None:
        frame[FETCHED_AT_COLUMN] = _fetched_at_column(fetched_at, n)
    return frame


# -- identity ----------------------------------------------------------------------------


def _text_column(rows: list[dict], field: str) -> list:
    values = [r.get(field) for r in rows]
    if all(type(v) is str for v in values):  # the normal case: Meta sends strings
        return values
    # Hand-written payloads or old raw rows may carry ids as JSON integers.
    return [_as_text(v, field, i) for i, v in enumerate(values)]


def _as_text(value: Any, field: str, row: int) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if field in KEY_FIELDS:
        raise ValueError(
            f"insight row {row}: key field {field!r} must be a string, got {type(value).__name__}"
        )
    return str(value)


def _require(values: list, field: str) -> None:
    for i, v in enumerate(values):
        if not v:  # None or ""
            raise ValueError(f"insight row {i}: key field {field!r} is missing or empty")


def _parse_days(days: list[str]) -> np.ndarray:
    # Few distinct days per batch: validate each once, then broadcast by code.
    codes, uniques = pd.factorize(np.asarray(days, dtype=object))
    parsed = []
    for code, text in enumerate(uniques):
        day = None
        if _ISO_DAY.fullmatch(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                day = None
        if day is None:
            row = int(np.flatnonzero(codes == code)[0])
            raise ValueError(f"insight row {row}: date_start {text!r} is not a YYYY-MM-DD date")
        parsed.append(np.datetime64(day, "ns"))
    return np.asarray(parsed, dtype="datetime64[ns]")[codes] if len(days) else np.array([], "datetime64[ns]")


def _check_daily(rows: list[dict], days: list[str]) -> None:
    # time_increment=1 rows start and stop on the same day; anything else was requested wrong.
    stops = [r.get("date_stop") for r in rows]
    for i, (start, stop) in enumerate(zip(days, stops)):
        if stop is not None and stop != start:
            raise ValueError(
                f"insight row {i}: date_stop {stop!r} != date_start {start!r}; "
                "expected daily rows (time_increment=1)"
            )


def _refuse_duplicates(hashes: list[str], text: dict[str, list], days: list[str]) -> None:
    series = pd.Series(hashes, dtype=object)
    dup = series.duplicated(keep=False).to_numpy()
    if dup.any():
        first = series[dup].iloc[0]
        rows = np.flatnonzero(series.to_numpy() == first).tolist()
        i = rows[0]
        raise ValueError(
            f"insight rows {rows} share hash_id {first} (ad_id={text['ad_id'][i]!r}, "
            f"date={days[i]!r}, platform={text['publisher_platform'][i]!r}, "
            f"position={text['platform_position'][i]!r}); {int(dup.sum())} rows are "
            "duplicated in total and none is dropped silently"
        )


# -- actions -------------------------------------------------------------------------------


def _extract_actions(rows: list[dict]) -> list[list]:
    """One pass over every row's `actions`; returns one raw-value list per known type."""
    n = len(rows)
    slots = [[None] * n for _ in _ACTION_TYPES]
    slot_of = _ACTION_SLOT.get
    for i, row in enumerate(rows):
        acts = row.get("actions")
        if not acts:
            continue
        if type(acts) is not list:
            raise ValueError(
                f"insight row {i}: 'actions' must be a list of {{action_type, value}}, "
                f"got {type(acts).__name__}"
            )
        for act in acts:
            try:
                k = slot_of(act.get("action_type"))
            except AttributeError:
                raise ValueError(
                    f"insight row {i}: each action must be a dict, got {type(act).__name__}"
                ) from None
            except TypeError:  # unhashable action_type: not one we know
                continue
            if k is None:
                continue  # unknown action types are ignored by rule
            column = slots[k]
            if column[i] is not None:
                raise ValueError(
                    f"insight row {i}: action_type {_ACTION_TYPES[k]!r} appears twice"
                )
            value = act.get("value")
            column[i] = "" if value is None else value  # "" marks present-but-empty
    return slots


# -- numbers -------------------------------------------------------------------------------


def _numbers(values: list) -> np.ndarray:
    """Raw values -> float64; anything that is not a number (None, '', 'abc') is NaN."""
    if not values:
        return np.array([], dtype=np.float64)
    parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def _clean_numbers(x: np.ndarray) -> np.ndarray:
    # Rule: missing, garbage, infinite or negative -> 0 (Meta never reports negative counts
    # or spend, so a negative value is garbage, not a refund).
    return np.where(np.isfinite(x) & (x > 0), x, 0.0)


def _clean_counts(x: np.ndarray) -> np.ndarray:
    # Modelled conversions can be fractional: round half up to a whole count.
    return np.floor(_clean_numbers(x) + 0.5).astype(np.int64)


def _counts(values: list) -> np.ndarray:
    return _clean_counts(_numbers(values))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # NULL (NaN) when the denominator is 0: "no clicks" has no cost per click.
    out = np.full(len(denominator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return np.round(out, 4)


# -- assembly ------------------------------------------------------------------------------


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _fetched_at_column(fetched_at: Any, n: int) -> Any:
    if isinstance(fetched_at, (datetime, str)):
        stamp = pd.Timestamp(fetched_at)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    values = list(fetched_at)
    if len(values) != n:
        raise ValueError(f"fetched_at has {len(values)} values for {n} rows")
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True).array
