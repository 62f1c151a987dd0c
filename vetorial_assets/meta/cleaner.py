"""Raw Meta Ads insight rows -> the `staging.insights_meta_ads` frame (pure rules, no I/O).

Input: the row dicts the Graph API returns for level=ad, time_increment=1, breakdowns
publisher_platform+platform_position, action_breakdowns action_type (numbers arrive as
strings). Every rule below is explained, with its source, in docs/business-rules.md.

Speed matters (a 90-day backfill of 3 accounts is ~324k rows): fields are pulled out with
pandas' C record reader, actions in one plain-Python pass, and everything else is
vectorised numpy. No per-row `apply`.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

try:  # pandas' C reader of dict rows (what from_records uses), minus the block copy
    from pandas._libs.lib import dicts_to_array as _dicts_to_array
except ImportError:  # pragma: no cover - a future pandas may move it
    _dicts_to_array = None

# -- the staging contract (column order = table order) ------------------------------------

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
STAGING_COLUMNS = ("hash_id", "data", *TEXT_COLUMNS, "valor_gasto", *COUNT_COLUMNS, *RATIO_COLUMNS)
# Appended after STAGING_COLUMNS only when clean_insights() is given fetched_at.
FETCHED_AT_COLUMN = "fetched_at"

# API field -> staging column, for the plain text fields.
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
# Without these a row has no identity (they make hash_id): bad input, never a default.
KEY_FIELDS = ("ad_id", "date_start", "publisher_platform", "platform_position")
_NUMBER_FIELDS = ("spend", "impressions", "reach", "inline_link_clicks")
_RECORD_FIELDS = (*_TEXT_FIELDS, "date_start", "date_stop", *_NUMBER_FIELDS, "actions")

# -- Meta action types the rules use (Ads Action Stats reference, Graph API v24) ----------

LINK_CLICK = "link_click"
LEAD = "lead"  # grouped type: "All offsite leads plus all On-Facebook leads"
LEAD_ON_FACEBOOK = "onsite_conversion.lead_grouped"  # grouped type: "All On-Facebook Leads"
LEAD_PIXEL = "offsite_conversion.fb_pixel_lead"  # website leads (pixel / Conversions API)
MESSAGING_FIRST_REPLY = "onsite_conversion.messaging_first_reply"  # "New Messaging Conversations"
IG_FOLLOWER_COUNT_TOTAL = "instagram_follower_count_total"  # seed: first choice for followers
POST_SAVE_FOLLOW = "onsite_conversion.post_save_follow"  # seed: fallback for followers

ACTION_TYPES = (
    LINK_CLICK,
    LEAD,
    LEAD_ON_FACEBOOK,
    LEAD_PIXEL,
    MESSAGING_FIRST_REPLY,
    IG_FOLLOWER_COUNT_TOTAL,
    POST_SAVE_FOLLOW,
)
_ACTION_SLOT = {t: i for i, t in enumerate(ACTION_TYPES)}
_ABSENT = ""  # action not reported; parses as NaN like any other non-number

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def clean_insights(
    rows: Iterable[dict[str, Any]],
    fetched_at: datetime | Sequence[datetime] | None = None,
) -> pd.DataFrame:
    """Clean raw insight rows into the staging frame (columns = STAGING_COLUMNS, in order).

    hash_id = md5 hex of ad_id + date_start (YYYY-MM-DD) + publisher_platform +
    platform_position, concatenated with no separator (the seed's key).

    fetched_at: optional, one datetime for every row or one per row; when given, a
    `fetched_at` column (UTC; naive values are read as UTC) follows the contract columns.

    Raises ValueError naming the row index (and field) for: a row that is not a dict, a
    missing/empty key field, a date that is not YYYY-MM-DD, a non-daily row, malformed
    `actions`, an action type repeated within a row, or two rows with the same hash_id.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"insight row {i}: expected a dict, got {type(row).__name__}")
    n = len(rows)
    records = _read_records(rows)

    # Identity first: a row we cannot key is an error, whatever its numbers say.
    text = {field: _text_column(records[field], field) for field in _TEXT_FIELDS}
    days = _text_column(records["date_start"], "date_start")
    for field, values in (
        ("ad_id", text["ad_id"]),
        ("date_start", days),
        ("publisher_platform", text["publisher_platform"]),
        ("platform_position", text["platform_position"]),
    ):
        _require(values, field)
    day_values = _parse_days(days)
    _check_daily(days, records["date_stop"])
    hashes = _hash_ids(text["ad_id"], days, text["publisher_platform"], text["platform_position"])
    _refuse_duplicates(hashes, text, days)

    spend = np.round(_non_negative(_parse_numbers(records["spend"])), 2)
    impressions = _counts(records["impressions"])
    reach = _counts(records["reach"])
    inline_link_clicks = _counts(records["inline_link_clicks"])
    actions = _extract_actions(records["actions"])
    del records

    link_click = _counts(actions[_ACTION_SLOT[LINK_CLICK]])
    lead = _counts(actions[_ACTION_SLOT[LEAD]])
    lead_on_facebook = _counts(actions[_ACTION_SLOT[LEAD_ON_FACEBOOK]])
    lead_pixel = _counts(actions[_ACTION_SLOT[LEAD_PIXEL]])
    messaging = _counts(actions[_ACTION_SLOT[MESSAGING_FIRST_REPLY]])
    ig_follower_total = _parse_numbers(actions[_ACTION_SLOT[IG_FOLLOWER_COUNT_TOTAL]])
    post_save_follow = _counts(actions[_ACTION_SLOT[POST_SAVE_FOLLOW]])
    del actions

    # Seed v2.0: clicks = inline_link_clicks + the link_click action; post_engagement
    # (likes, comments) is never a click (it inflated CTR).
    clicks = inline_link_clicks + link_click
    # Meta's `lead` already contains lead_grouped (on-Facebook) + offsite (pixel) leads,
    # so origins are split out of it, never added to it (docs/business-rules.md).
    leads_form = lead_on_facebook
    leads_site = np.maximum(lead - lead_on_facebook, lead_pixel)
    leads_total = leads_form + leads_site + messaging
    # Seed: instagram_follower_count_total wins when reported, else post_save_follow.
    # Facebook Page likes (`like`) are never Instagram followers.
    followers = np.where(
        np.isnan(ig_follower_total), post_save_follow, _round_count(ig_follower_total)
    ).astype(np.int64)

    columns: dict[str, Any] = {"hash_id": _object_array(hashes), "data": day_values}
    for field, name in _TEXT_FIELDS.items():
        columns[name] = text[field]
    columns.update(
        valor_gasto=spend,
        impressoes=impressions,
        alcance=reach,
        cliques=clicks,
        leads_formulario=leads_form,
        leads_site=leads_site,
        leads_mensagem=messaging,
        leads_total=leads_total,
        seguidores_instagram=followers,
        ctr=_ratio(clicks * 100.0, impressions),
        cpc=_ratio(spend, clicks),
        cpl=_ratio(spend, leads_total),
    )
    frame = pd.DataFrame(columns, columns=list(STAGING_COLUMNS), copy=False)
    if fetched_at is not None:
        frame[FETCHED_AT_COLUMN] = _fetched_at_column(fetched_at, n)
    return frame


# -- identity -------------------------------------------------------------------------------


def _read_records(rows: list[dict]) -> dict[str, np.ndarray]:
    """Field -> object array, one C-level pass over the dicts; a missing field is NaN."""
    fields = list(_RECORD_FIELDS)
    if _dicts_to_array is not None and rows:
        table = _dicts_to_array(rows, fields)
    else:
        table = pd.DataFrame.from_records(rows, columns=fields).to_numpy(dtype=object)
    return {field: table[:, j] for j, field in enumerate(fields)}


def _text_column(values: np.ndarray, field: str) -> np.ndarray:
    """Object array of str, or None where the field is missing."""
    if _all_strings(values):  # the normal case: Meta sends every field as a string
        return values
    values = values.copy()
    values[pd.isna(values)] = None
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values
    # Hand-written payloads or old raw rows may carry ids as JSON integers.
    return _object_array([_as_text(v, field, i) for i, v in enumerate(values)])


def _all_strings(values: np.ndarray) -> bool:
    return pd.api.types.infer_dtype(values, skipna=False) == "string"


def _as_text(value: Any, field: str, row: int) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if field in KEY_FIELDS:
        raise ValueError(
            f"insight row {row}: key field {field!r} must be a string, got {type(value).__name__}"
        )
    return str(value)


def _require(values: np.ndarray, field: str) -> None:
    empty = values == ""
    bad = np.flatnonzero(empty if _all_strings(values) else empty | pd.isna(values))
    if len(bad):
        raise ValueError(f"insight row {int(bad[0])}: key field {field!r} is missing or empty")


def _parse_days(days: np.ndarray) -> np.ndarray:
    # Few distinct days per batch: validate each distinct text once, then broadcast.
    codes, uniques = pd.factorize(days)
    parsed = np.empty(len(uniques), dtype="datetime64[ns]")
    for code, text in enumerate(uniques):
        day = None
        if _ISO_DAY.fullmatch(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                pass
        if day is None:
            row = int(np.flatnonzero(codes == code)[0])
            raise ValueError(f"insight row {row}: date_start {text!r} is not a YYYY-MM-DD date")
        parsed[code] = np.datetime64(day, "ns")
    return parsed[codes]


def _check_daily(starts: np.ndarray, stops: np.ndarray) -> None:
    # time_increment=1 rows start and stop on the same day; anything else was requested wrong.
    differ = np.flatnonzero(stops != starts)
    bad = differ[~pd.isna(stops[differ])]  # a missing date_stop is no contradiction
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"insight row {i}: date_stop {stops[i]!r} differs from date_start {starts[i]!r}; "
            "expected daily rows (time_increment=1)"
        )


def _hash_ids(ad_ids, days, platforms, positions) -> list[str]:
    md5 = hashlib.md5
    return [
        md5((a + d + p + q).encode()).hexdigest()
        for a, d, p, q in zip(
            ad_ids.tolist(), days.tolist(), platforms.tolist(), positions.tolist()
        )
    ]


def _refuse_duplicates(hashes: list[str], text: dict[str, np.ndarray], days: np.ndarray) -> None:
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
            "duplicated in all, and none is dropped silently"
        )


# -- actions --------------------------------------------------------------------------------


def _extract_actions(actions: np.ndarray) -> list[list]:
    """One pass over every row's `actions`: one raw-value list per type in ACTION_TYPES."""
    n = len(actions)
    slots = [[_ABSENT] * n for _ in ACTION_TYPES]
    slot_of = _ACTION_SLOT.get
    for i, acts in enumerate(actions.tolist()):
        if type(acts) is not list:
            if acts is None or acts != acts:  # missing field (None or NaN): no actions
                continue
            raise ValueError(
                f"insight row {i}: 'actions' must be a list of {{action_type, value}}, "
                f"got {type(acts).__name__}"
            )
        try:  # fast path for well-formed actions; the careful one explains anything else
            for act in acts:
                k = slot_of(act["action_type"])
                if k is not None:  # unknown action types are ignored by rule
                    column = slots[k]
                    if column[i] != _ABSENT:
                        raise _Repeated(k)
                    column[i] = act["value"]
        except (KeyError, TypeError, _Repeated):
            _extract_row_carefully(i, acts, slots)
    return slots


class _Repeated(Exception):
    pass


def _extract_row_carefully(i: int, acts: list, slots: list[list]) -> None:
    for column in slots:
        column[i] = _ABSENT
    seen: set[str] = set()
    for act in acts:
        if not isinstance(act, dict):
            raise ValueError(f"insight row {i}: each action must be a dict, got {type(act).__name__}")
        kind = act.get("action_type")
        if type(kind) is not str or kind not in _ACTION_SLOT:
            continue  # unknown (or absent) action type: ignored
        if kind in seen:
            raise ValueError(f"insight row {i}: action_type {kind!r} appears more than once")
        seen.add(kind)
        value = act.get("value")
        slots[_ACTION_SLOT[kind]][i] = _ABSENT if value is None else value


# -- numbers --------------------------------------------------------------------------------


def _parse_numbers(values: Sequence | np.ndarray) -> np.ndarray:
    """Raw values -> float64, NaN for anything that is not a number (None, '', 'abc')."""
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    parsed = _parse_number_strings(values, n)
    if parsed is None:  # not all clean strings: the slower, forgiving path
        parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    return parsed


def _parse_number_strings(values: Sequence | np.ndarray, n: int) -> np.ndarray | None:
    # pandas' C CSV parser reads a column of numeric strings ~4x faster than to_numeric.
    try:
        text = "\n".join(values)
    except TypeError:  # None, NaN or a real number somewhere
        return None
    if "," in text or '"' in text:  # would split or quote a line; let the safe path decide
        return None
    try:
        parsed = pd.read_csv(
            io.StringIO(text + "\n0"),  # the sentinel keeps trailing empty lines
            header=None,
            names=["v"],
            dtype=np.float64,
            skip_blank_lines=False,
            index_col=False,
            engine="c",
        )["v"].to_numpy()
    except (ValueError, pd.errors.ParserError):  # garbage such as 'abc'
        return None
    return parsed[:n] if len(parsed) == n + 1 else None


def _non_negative(x: np.ndarray) -> np.ndarray:
    # Rule: missing, garbage, infinite or negative -> 0. Meta never reports a negative count
    # or spend, so a negative value is garbage, not a correction.
    return np.where(np.isfinite(x) & (x > 0), x, 0.0)


def _round_count(x: np.ndarray) -> np.ndarray:
    # Modelled conversions can be fractional: round half up to a whole count.
    return np.floor(_non_negative(x) + 0.5).astype(np.int64)


def _counts(values: Sequence | np.ndarray) -> np.ndarray:
    return _round_count(_parse_numbers(values))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # NULL (NaN) when the denominator is 0: no clicks means no cost per click, not 0.
    out = np.full(len(denominator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return np.round(out, 4)


# -- assembly -------------------------------------------------------------------------------


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
