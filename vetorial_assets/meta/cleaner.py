"""Raw Meta Ads insight rows -> the `staging.insights_meta_ads` frame (pure rules, no I/O).

Input: the row dicts the Graph API returns for level=ad, time_increment=1, breakdowns
publisher_platform+platform_position, action_breakdowns action_type (numbers arrive as
strings). Every rule below is explained, with its source, in docs/business-rules.md.

Speed matters (3 accounts x 200 ads x 6 placements x 90 days = 324k rows). The values of
freshly parsed JSON are scattered across memory, so the cost is touching them, not
arithmetic: fields are read once by pandas' C record reader; key fields and numbers are
factorized (one touch per value) and validated, parsed and hashed on their few distinct
values, then broadcast back with numpy; actions get one plain-Python pass. No per-row
`apply`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

try:  # the C reader behind DataFrame.from_records, without its block copy
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
_PLAIN_TEXT_FIELDS = tuple(f for f in _TEXT_FIELDS if f not in KEY_FIELDS)
_RECORD_FIELDS = (
    *_TEXT_FIELDS,
    "date_start",
    "date_stop",
    "spend",
    "impressions",
    "reach",
    "inline_link_clicks",
    "actions",
)

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

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

# Numbers are parsed as float64, which holds every whole number up to 2^53 exactly: a larger
# count (or a spend with more than 2^53 cents) would be stored as some other number. Meta
# reports nothing near it, so such a value marks a row that cannot be cleaned.
MAX_EXACT_COUNT = 2**53
MAX_EXACT_SPEND = 2**53 / 100
_COUNT_FIELDS = ("impressions", "reach", "inline_link_clicks")
# A number written out (what a JSON number or Meta's numeric strings look like), and the
# stand-in for one past float's range.
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
OVERFLOW = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class RejectedRow:
    """An insight row the cleaner left out: which (its raw key as sent), which field, why."""

    index: int  # position in the input
    key: dict[str, Any]  # account_id (act_ form), data, ad_id, publisher_platform, platform_position
    field: str
    reason: str
    value: Any

    def message(self) -> str:
        if "row" in self.key:  # not even a dict: no ad_id to name
            return f"insight row {self.key['row']}: {self.reason}"
        k = self.key
        return (
            f"insight ad_id={k['ad_id']!r} date={k['data']!r} ({k['publisher_platform']}/"
            f"{k['platform_position']}, {k['account_id']}): {self.reason}"
        )


def clean_insights(
    rows: Iterable[dict[str, Any]],
    fetched_at: datetime | Sequence[datetime] | None = None,
    rejected: list[RejectedRow] | None = None,
) -> pd.DataFrame:
    """Clean raw insight rows into the staging frame (columns = STAGING_COLUMNS, in order).

    hash_id = md5 hex of ad_id + date_start (YYYY-MM-DD) + publisher_platform +
    platform_position, concatenated with no separator (the seed's key).

    fetched_at: optional, one datetime for every row or one per row; when given, a
    `fetched_at` column (UTC; naive values are read as UTC) follows the contract columns.

    A row that cannot be cleaned: one that is not a dict, a missing/empty key field, a date
    that is not YYYY-MM-DD, a non-daily row, malformed `actions`, an action type repeated
    within the row. With `rejected` (a list) such rows are left out and appended to it, and
    every other row is cleaned; without it the first one raises ValueError naming its ad_id
    and date. Two rows with the same hash_id always raise (nothing is deduplicated
    silently). Clean input pays nothing for this: rows are examined one by one only after
    the column-wise pass found a problem.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    try:
        return _clean(rows, fetched_at)
    except ValueError as error:
        bad = find_bad_rows(rows)
        if not bad:
            raise
        if rejected is None:
            raise ValueError(bad[0].message()) from error
        rejected.extend(bad)
        skip = {b.index for b in bad}
        kept = [row for i, row in enumerate(rows) if i not in skip]
        if fetched_at is not None and not isinstance(fetched_at, (datetime, str)):
            fetched_at = [f for i, f in enumerate(fetched_at) if i not in skip]
        return _clean(kept, fetched_at)


def _clean(rows: list, fetched_at) -> pd.DataFrame:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"insight row {i}: expected a dict, got {type(row).__name__}")
    n = len(rows)
    records = _read_records(rows)

    # Identity first: a row we cannot key is an error, whatever its numbers say. The key
    # fields repeat a lot (ads x days x placements): factorize them once, then validate,
    # parse and hash on their distinct values.
    keys = {field: _Text(records[field], field) for field in KEY_FIELDS}
    for field in KEY_FIELDS:
        keys[field].require()
    day = keys["date_start"]
    day_values = _parse_days(day)
    _check_daily(day, records["date_stop"])
    hashes = _hash_ids(*(keys[field] for field in KEY_FIELDS))
    text = {field: _plain_text(records[field], field) for field in _PLAIN_TEXT_FIELDS}
    for field in ("ad_id", "publisher_platform", "platform_position"):
        text[field] = keys[field].values()
    # Insights rows carry the bare number; the warehouse uses the `act_` id everywhere
    # (tenants.yaml, partitions, raw), so staging joins and scopes on one form.
    text["account_id"] = _ad_account_ids(text["account_id"])

    spend = np.round(_non_negative(_exact(_numbers(records["spend"]), "spend")), 2)
    impressions = _counts(records["impressions"], "impressions")
    reach = _counts(records["reach"], "reach")
    inline_link_clicks = _counts(records["inline_link_clicks"], "inline_link_clicks")
    actions = _extract_actions(records["actions"])
    del records

    link_click = _counts(actions[_ACTION_SLOT[LINK_CLICK]], LINK_CLICK)
    lead = _counts(actions[_ACTION_SLOT[LEAD]], LEAD)
    lead_on_facebook = _counts(actions[_ACTION_SLOT[LEAD_ON_FACEBOOK]], LEAD_ON_FACEBOOK)
    lead_pixel = _counts(actions[_ACTION_SLOT[LEAD_PIXEL]], LEAD_PIXEL)
    messaging = _counts(actions[_ACTION_SLOT[MESSAGING_FIRST_REPLY]], MESSAGING_FIRST_REPLY)
    ig_follower_total = _exact(_numbers(actions[_ACTION_SLOT[IG_FOLLOWER_COUNT_TOTAL]]), IG_FOLLOWER_COUNT_TOTAL)
    post_save_follow = _counts(actions[_ACTION_SLOT[POST_SAVE_FOLLOW]], POST_SAVE_FOLLOW)
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
    followers = np.where(np.isnan(ig_follower_total), post_save_follow, _round_count(ig_follower_total)).astype(
        np.int64
    )

    columns: dict[str, Any] = {"hash_id": hashes, "data": day_values}
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


# -- reading --------------------------------------------------------------------------------


def _read_records(rows: list[dict]) -> dict[str, np.ndarray]:
    """Field -> object array, in one C-level pass over the dicts; a missing field is NaN."""
    fields = list(_RECORD_FIELDS)
    if _dicts_to_array is not None and rows:
        table = _dicts_to_array(rows, fields)
    else:
        table = pd.DataFrame.from_records(rows, columns=fields).to_numpy(dtype=object)
    return {field: table[:, j] for j, field in enumerate(fields)}


def _factorize(values: np.ndarray | list) -> tuple[np.ndarray, list]:
    """codes (-1 = missing: None or NaN) and the distinct values, as a list."""
    if not isinstance(values, np.ndarray):
        values = _object_array(values)  # np.asarray would turn nested lists into 2-D
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # an unhashable value (a list or dict where text/number belongs)
        values = _object_array([v if _hashable(v) else _Unhashable(v) for v in values])
        codes, uniques = pd.factorize(values)
    return codes, list(uniques)


class _Unhashable:
    """Stands in for an unhashable value so factorize can run; each one is distinct."""

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


# -- identity -------------------------------------------------------------------------------


def _ad_account_ids(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for i, value in enumerate(out):
        if value is not None and not value.startswith("act_"):
            out[i] = "act_" + value
    return out


def _plain_text(values: np.ndarray, field: str) -> np.ndarray:
    """Object array of str, None where missing. Ids and names are many and distinct, so
    they are only type-checked (one cheap pass), not factorized."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values  # the normal case: Meta sends every field as a string
    out = _object_array(values.tolist())
    out[pd.isna(out)] = None
    if pd.api.types.infer_dtype(out, skipna=True) not in ("string", "empty"):
        out = _object_array([_as_text(v, field, i) for i, v in enumerate(out)])
    return out


def _as_text(value: Any, field: str, row: int) -> str | None:
    if value is None or type(value) is str:
        return value
    # Hand-written payloads or old raw rows may carry ids as JSON integers.
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, _Unhashable):
        value = value.value
    # Anything else (a float, a boolean, a list or an object) is no id or name: its
    # Python spelling ("{'a': 1}", "True") is not what Meta meant.
    raise ValueError(f"insight row {row}: {_text_kind(field)} {field!r} must be a string, got {type(value).__name__}")


def _text_kind(field: str) -> str:
    return "key field" if field in KEY_FIELDS else "field"


def _unstorable_text(text: str) -> str | None:
    """Why a key text cannot be stored or hashed (NUL, an unpaired surrogate), or None."""
    if "\x00" in text:
        return "holds a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired surrogate (not UTF-8)"
    return None


class _Text:
    """A field with few distinct values, factorized: rules run on the distinct values."""

    def __init__(self, raw: np.ndarray, field: str):
        self.field = field
        self.codes, uniques = _factorize(raw)
        self.uniques = [self._as_text(value, code) for code, value in enumerate(uniques)]

    def _as_text(self, value: Any, code: int) -> str:
        if type(value) is str:
            return value
        return _as_text(value, self.field, self.first_row(code))

    def first_row(self, code: int) -> int:
        return int(np.flatnonzero(self.codes == code)[0])

    def require(self) -> None:
        missing = np.flatnonzero(self.codes == -1)
        if len(missing):
            raise ValueError(f"insight row {int(missing[0])}: key field {self.field!r} is missing or empty")
        if "" in self.uniques:
            row = self.first_row(self.uniques.index(""))
            raise ValueError(f"insight row {row}: key field {self.field!r} is missing or empty")
        for code, text in enumerate(self.uniques):
            problem = _unstorable_text(text)
            if problem:  # a key the warehouse cannot hold, and md5 cannot hash
                raise ValueError(f"insight row {self.first_row(code)}: key field {self.field!r} {problem}")

    def values(self) -> np.ndarray:
        """Object array of str, None where missing (code -1 picks the trailing None)."""
        return _object_array([*self.uniques, None])[self.codes]


def _parse_days(day: _Text) -> np.ndarray:
    parsed = np.empty(len(day.uniques), dtype="datetime64[ns]")
    for code, text in enumerate(day.uniques):
        value = None
        if _ISO_DAY.fullmatch(text):
            try:
                value = date.fromisoformat(text)
            except ValueError:
                pass
        if value is None:
            raise ValueError(f"insight row {day.first_row(code)}: date_start {text!r} is not a YYYY-MM-DD date")
        parsed[code] = np.datetime64(value, "ns")
    return parsed[day.codes]


def _check_daily(day: _Text, stops: np.ndarray) -> None:
    # time_increment=1 rows start and stop on the same day; anything else was requested wrong.
    starts = day.values()
    differ = np.flatnonzero(stops != starts)
    bad = differ[~pd.isna(stops[differ])]  # a missing date_stop is no contradiction
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"insight row {i}: date_stop {stops[i]!r} differs from date_start {starts[i]!r}; "
            "expected daily rows (time_increment=1)"
        )


def _hash_ids(ad: _Text, day: _Text, platform: _Text, position: _Text) -> np.ndarray:
    """md5(ad_id + date + platform + position) per row; ValueError on a repeated key."""
    # Day x platform x position has few combinations: concatenate each suffix once.
    n_platform, n_position = len(platform.uniques), len(position.uniques)
    combo = (day.codes.astype(np.int64) * n_platform + platform.codes) * n_position
    combo += position.codes
    suffixes = [d + p + q for d in day.uniques for p in platform.uniques for q in position.uniques]
    key = ad.codes.astype(np.int64) * len(suffixes) + combo
    # Nothing is deduplicated silently: a repeated key is an error, checked on the codes.
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(key == key[repeated][0]).tolist()
        i = rows[0]
        raise ValueError(
            f"insight rows {rows} share hash_id "
            f"{_md5(ad.uniques[ad.codes[i]] + suffixes[combo[i]])} "
            f"(ad_id={ad.uniques[ad.codes[i]]!r}, date={day.uniques[day.codes[i]]!r}, "
            f"platform={platform.uniques[platform.codes[i]]!r}, "
            f"position={position.uniques[position.codes[i]]!r}); {int(repeated.sum())} rows "
            "repeat a key in all, and none is dropped silently"
        )
    ads, md5 = ad.uniques, hashlib.md5
    return _object_array(
        [md5((ads[a] + suffixes[c]).encode()).hexdigest() for a, c in zip(ad.codes.tolist(), combo.tolist())]
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# -- actions --------------------------------------------------------------------------------


def _extract_actions(actions: np.ndarray) -> list[list]:
    """One pass over every row's `actions`: one raw-value list per type in ACTION_TYPES.

    A type the row does not report stays None (absent)."""
    n = len(actions)
    slots: list[list] = [[None] * n for _ in ACTION_TYPES]
    column_of = dict(zip(ACTION_TYPES, slots)).get
    for i, acts in enumerate(actions.tolist()):
        if type(acts) is not list:
            if acts is None or acts != acts:  # missing field (None or NaN): no actions
                continue
            raise ValueError(
                f"insight row {i}: 'actions' must be a list of {{action_type, value}}, got {type(acts).__name__}"
            )
        try:  # fast path for well-formed actions; the careful one explains anything else
            for act in acts:
                column = column_of(act["action_type"])
                if column is not None:  # unknown action types are ignored by rule
                    if column[i] is not None:
                        raise _Repeated
                    column[i] = act["value"]
        except (KeyError, TypeError, _Repeated):
            _extract_row_carefully(i, acts, slots)
    return slots


class _Repeated(Exception):
    pass


def _extract_row_carefully(i: int, acts: list, slots: list[list]) -> None:
    for column in slots:
        column[i] = None
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
        slots[_ACTION_SLOT[kind]][i] = act.get("value")


# -- rows that cannot be cleaned ---------------------------------------------------------
# The careful path, only after the column-wise pass raised: every row checked on its own by
# the same rules, so that each bad one can be left out (or named) and the rest cleaned.


def _key_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return repr(value)


def row_key(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        return {}
    account = _key_text(row.get("account_id"))
    if isinstance(account, str) and not account.startswith("act_"):
        account = "act_" + account
    return {
        "account_id": account,
        "ad_id": _key_text(row.get("ad_id")),
        "data": _key_text(row.get("date_start")),
        "publisher_platform": _key_text(row.get("publisher_platform")),
        "platform_position": _key_text(row.get("platform_position")),
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))


def _row_problem(row: Any) -> tuple[str, str, Any] | None:
    """(field, reason, value) of the first rule `row` breaks, or None."""
    if not isinstance(row, dict):
        return "row", f"expected a dict, got {type(row).__name__}", row
    for field in KEY_FIELDS:
        value = row.get(field)
        if _missing(value) or value == "":
            return field, f"key field {field!r} is missing or empty", value
        if not _is_text(value):
            return field, f"key field {field!r} must be a string, got {type(value).__name__}", value
        problem = _unstorable_text(value) if isinstance(value, str) else None
        if problem:
            return field, f"key field {field!r} {problem}", value
    for field in _PLAIN_TEXT_FIELDS:
        value = row.get(field)
        if not _missing(value) and not _is_text(value):
            return field, f"field {field!r} must be a string, got {type(value).__name__}", value
    day = _key_text(row["date_start"])
    valid = False
    if _ISO_DAY.fullmatch(day):
        try:
            date.fromisoformat(day)
            valid = True
        except ValueError:
            pass
    if not valid:
        return "date_start", f"date_start {day!r} is not a YYYY-MM-DD date", row["date_start"]
    stop = row.get("date_stop")
    if not _missing(stop) and stop != day:
        return (
            "date_stop",
            f"date_stop {stop!r} differs from date_start {day!r}; expected daily rows (time_increment=1)",
            stop,
        )
    for field in ("spend", *_COUNT_FIELDS):
        problem = _number_problem(row.get(field), field)
        if problem:
            return field, problem, row.get(field)
    acts = row.get("actions")
    if _missing(acts):
        return None
    if type(acts) is not list:
        return "actions", f"'actions' must be a list of {{action_type, value}}, got {type(acts).__name__}", acts
    seen: set[str] = set()
    for act in acts:
        if not isinstance(act, dict):
            return "actions", f"each action must be a dict, got {type(act).__name__}", acts
        kind = act.get("action_type")
        if type(kind) is str and kind in _ACTION_SLOT:
            if kind in seen:
                return "actions", f"action_type {kind!r} appears more than once", acts
            seen.add(kind)
            problem = _number_problem(act.get("value"), kind)
            if problem:
                return "actions", f"action {problem}", acts
    return None


def _number_problem(value: Any, field: str) -> str | None:
    """The fast path's number rule for one value (the same parser, one value)."""
    return _too_big(float(_numbers(_object_array([value]))[0]), field)


def find_bad_rows(rows: list) -> list[RejectedRow]:
    """Every row the cleaner cannot clean, with the first rule it breaks."""
    bad = []
    for i, row in enumerate(rows):
        problem = _row_problem(row)
        if problem is not None:
            field, reason, value = problem
            key = row_key(row) or {"row": i}
            bad.append(RejectedRow(i, key, field, reason, value))
    return bad


# -- numbers --------------------------------------------------------------------------------


def _numbers(values: np.ndarray | list) -> np.ndarray:
    """Raw values -> float64; NaN for anything that is not a number (None, '', 'abc'), and
    ±OVERFLOW for a number past float's range (a JSON integer of 400 digits, "1e999")."""
    codes, uniques = _factorize(values)
    scalars = [_scalar_value(u) for u in uniques]
    parsed = pd.to_numeric(pd.Series([*scalars, None], dtype=object), errors="coerce")
    out = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    # pandas reads a decimal past float's range as NaN, i.e. not a number: it is one, too
    # large to hold (its row is refused), not garbage to be read as 0.
    for j in np.flatnonzero(np.isnan(out[:-1])).tolist():
        text = scalars[j]
        if isinstance(text, str) and _DECIMAL.fullmatch(text):
            out[j] = math.copysign(OVERFLOW, float(text)) if math.isinf(float(text)) else float(text)
    return out[codes]  # code -1: the None


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, np.number)) and not isinstance(value, bool)


def _scalar_value(value: Any) -> Any:
    if not _scalar(value):
        return None
    if isinstance(value, int) and abs(value) > OVERFLOW:  # float() would raise OverflowError
        return OVERFLOW if value > 0 else -OVERFLOW
    return value


def _non_negative(x: np.ndarray) -> np.ndarray:
    # Rule: missing, garbage, infinite or negative -> 0. Meta never reports a negative count
    # or spend, so a negative value is garbage, not a correction.
    return np.where(np.isfinite(x) & (x > 0), x, 0.0)


def _round_count(x: np.ndarray) -> np.ndarray:
    # Modelled conversions can be fractional: round half up to a whole count.
    return np.floor(_non_negative(x) + 0.5).astype(np.int64)


def _counts(values: np.ndarray | list, field: str) -> np.ndarray:
    return _round_count(_exact(_numbers(values), field))


def _limit(field: str) -> float:
    return MAX_EXACT_SPEND if field == "spend" else MAX_EXACT_COUNT


def _too_big(number: float, field: str) -> str | None:
    """Why a parsed number cannot be cleaned exactly, or None (negative, NaN and infinite
    values are the rule's 0, not an error)."""
    limit = _limit(field)
    if math.isfinite(number) and number >= limit:
        unit = "cents" if field == "spend" else "a count"
        shown = "past a float's range" if number == OVERFLOW else repr(number)
        return (
            f"{field} {shown} is larger than the cleaner holds exactly ({unit} below 2^53); "
            "Meta reports nothing near it"
        )
    return None


def _exact(x: np.ndarray, field: str) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero(np.isfinite(x) & (x >= _limit(field)))
    if len(big):
        i = int(big[0])
        raise ValueError(f"insight row {i}: {_too_big(float(x[i]), field)}")
    return x


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


def _fetched_at_column(fetched_at: Any, n: int) -> pd.Series:
    # Naive datetimes are read as UTC; the column is always datetime64[ns, UTC].
    if isinstance(fetched_at, (datetime, str)):
        stamp = pd.Timestamp(fetched_at)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return pd.Series(stamp, index=pd.RangeIndex(n), dtype="datetime64[ns, UTC]")
    values = list(fetched_at)
    if len(values) != n:
        raise ValueError(f"fetched_at has {len(values)} values for {n} rows")
    stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    return stamps.astype("datetime64[ns, UTC]")
