"""Bad input, Meta Ads (issue 11, build 5): generated Graph insight rows through the pure rules.

Valid rows carry the faults the business rules absorb (numbers as strings, missing or empty
numbers, missing fields, unknown and repeated unknown action types, extra fields, emoji /
right-to-left / SQL-looking names, huge text) and, sometimes, a garbage number (thousands
separators, NaN/Infinity, negatives, booleans, lists) that §1.2 refuses since issue 13;
bad rows carry one fault the rules refuse (a key missing or of the wrong type, a date that
is none, a non-daily row, malformed or duplicated known actions, a number too large to hold
exactly, a name that is no text). The cleaner keeps every valid row with the values an
independent, plain re-implementation of docs/business-rules.md computes (the oracle below),
leaves out every bad row naming its ad_id, date and field, and raises nothing. Raw rows
likewise, with rows outside the requested account and dates.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.bad_input_budget import examples
from vetorial_assets.meta.cleaner import COUNT_COLUMNS, STAGING_COLUMNS, TEXT_COLUMNS, RejectedRow, clean_insights
from vetorial_assets.meta.raw_rows import canonical_json, raw_rows
from vetorial_assets.meta.staging_type import InsightsMetaAdsFrame

ACCOUNT = "act_1001"
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 7)
PLACEMENTS = [
    ("facebook", "feed"),
    ("facebook", "story"),
    ("instagram", "reels"),
    ("instagram", "stream"),
    ("audience_network", "classic"),
    ("messenger", "messenger_inbox"),
]
KNOWN = [
    "link_click",
    "lead",
    "onsite_conversion.lead_grouped",
    "offsite_conversion.fb_pixel_lead",
    "onsite_conversion.messaging_first_reply",
    "instagram_follower_count_total",
    "onsite_conversion.post_save_follow",
]
UNKNOWN = [
    "video_view",
    "post_reaction",
    "post_engagement",
    "like",
    "omni_purchase",
    "messaging_first_reply",
    "leadgen_grouped",
    "LEAD",
    "lead ",
    "",
    "onsite_conversion.lead_grouped\x00",
]
LIMIT = 2**53
HUGE = sys.float_info.max

# ----------------------------------------------------------------------------- the oracle
# docs/business-rules.md §1, written out plainly, one row at a time, without the cleaner's code.

_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_SPECIAL = {
    "nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "-infinity": -math.inf,
}


def number(value) -> float:
    """§1.2 "a value that parses as a number is used"; anything else is NaN (not a number).
    A number past float's range is HUGE (a number, too large to hold: its row is refused)."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int):
        return float(value) if abs(value) <= sys.float_info.max else (HUGE if value > 0 else -HUGE)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            x = float(value)
            return math.copysign(HUGE, x) if math.isinf(x) else x
        return _SPECIAL.get(value.strip().lower(), math.nan)
    return math.nan


class Bad(Exception):
    def __init__(self, field):
        self.field = field


def missing(value) -> bool:
    """§1.2: absent, None, NaN (an absent field) or empty text: Meta omits zero metrics."""
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and value.strip() == "")
    )


def amount(value, field) -> float:
    """§1.2: missing is 0; a present value that is not a non-negative number, or one too large
    to hold exactly, leaves the row out (Bad(field))."""
    if missing(value):
        return 0.0
    x = number(value)
    if not math.isfinite(x) or x < 0:  # garbage, "NaN", inf, negative, a list, a boolean
        raise Bad(field)
    if x >= (LIMIT / 100 if field == "spend" else LIMIT):
        raise Bad(field)
    return x


def count(value, field) -> int:
    return math.floor(amount(value, field) + 0.5)  # whole, half up


def is_text(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def text(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not is_text(value):
        raise TypeError
    return str(value)


def oracle(row) -> dict:
    """The staging row §1 makes of `row`, or raises Bad(field) for a row §1.7 leaves out."""
    if not isinstance(row, dict):
        raise Bad("row")
    for key in ("ad_id", "date_start", "publisher_platform", "platform_position"):
        v = row.get(key)
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)) or not is_text(v):
            raise Bad(key)
        if isinstance(v, str) and ("\x00" in v or any(0xD800 <= ord(c) <= 0xDFFF for c in v)):
            raise Bad(key)
    day = str(row["date_start"])
    try:
        parsed_day = date.fromisoformat(day) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day) else None
    except ValueError:
        parsed_day = None
    if parsed_day is None:
        raise Bad("date_start")
    stop = row.get("date_stop")
    if stop is not None and not (isinstance(stop, float) and math.isnan(stop)) and stop != day:
        raise Bad("date_stop")
    texts = {}
    for field in ("account_id", "account_name", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_name"):
        try:
            texts[field] = text(row.get(field))
        except TypeError:
            raise Bad(field) from None
    spend = amount(row.get("spend"), "spend")
    impressions = count(row.get("impressions"), "impressions")
    reach = count(row.get("reach"), "reach")
    inline = count(row.get("inline_link_clicks"), "inline_link_clicks")
    acts = row.get("actions")
    values: dict[str, object] = {}
    if acts is not None and not (isinstance(acts, float) and math.isnan(acts)):
        if not isinstance(acts, list):
            raise Bad("actions")
        for act in acts:
            if not isinstance(act, dict):
                raise Bad("actions")
            kind = act.get("action_type")
            if isinstance(kind, str) and kind in KNOWN:
                if kind in values:
                    raise Bad("actions")
                values[kind] = act.get("value")
    a = {kind: count(values.get(kind), "actions") for kind in KNOWN}
    clicks = max(inline, a["link_click"])  # §1.3: the larger one; never post_engagement
    form = a["onsite_conversion.lead_grouped"]
    site = max(a["lead"] - form, a["offsite_conversion.fb_pixel_lead"])
    messages = a["onsite_conversion.messaging_first_reply"]
    total = form + site + messages
    followers = (
        a["onsite_conversion.post_save_follow"]
        if missing(values.get("instagram_follower_count_total"))
        else a["instagram_follower_count_total"]
    )
    account = texts["account_id"]
    return {
        "hash_id": hashlib.md5(
            (str(row["ad_id"]) + day + str(row["publisher_platform"]) + str(row["platform_position"])).encode()
        ).hexdigest(),
        "data": parsed_day,
        "account_id": account if account is None or account.startswith("act_") else "act_" + account,
        "account_name": texts["account_name"],
        "campaign_id": texts["campaign_id"],
        "campaign_name": texts["campaign_name"],
        "adset_id": texts["adset_id"],
        "adset_name": texts["adset_name"],
        "ad_id": str(row["ad_id"]),
        "ad_name": texts["ad_name"],
        "plataforma": str(row["publisher_platform"]),
        "posicionamento": str(row["platform_position"]),
        "valor_gasto": spend,
        "impressoes": impressions,
        "alcance": reach,
        "cliques": clicks,
        "leads_formulario": form,
        "leads_site": site,
        "leads_mensagem": messages,
        "leads_total": total,
        "seguidores_instagram": followers,
        "ctr": clicks * 100 / impressions if impressions else None,
        "cpc": None,
        "cpl": None,
        "_total": total,
        "_clicks": clicks,
    }


# ----------------------------------------------------------------------------- generated rows

# Text a name may hold: emoji, right-to-left scripts, SQL, quotes, long runs, NUL (the load
# path NULLs what a column cannot store; the cleaner passes names on).
SQL_NAMES = [
    "'; DROP TABLE staging.insights_meta_ads; --",
    "Robert'); DELETE FROM ops.etl_control;--",
    "1 OR 1=1",
    "\\x00",
    "%s %(x)s {0}",
    "$1",
    "NULL",
    "null",
    "<script>alert(1)</script>",
]
names = st.one_of(
    st.text(max_size=40),
    st.sampled_from(SQL_NAMES + ["Promoção 😀🔥", "עברית ومرحبا", "\u202eevil\u202c", "a\u0000b", "x" * 5000]),
    st.integers(0, 10**25),
    st.none(),
)
# Numbers as Meta sends them, and as a broken producer might.
good_numbers = st.one_of(
    st.integers(0, 10**9).map(str),
    st.integers(0, 10**9),
    st.decimals(0, 10**6, places=2).map(str),
    st.floats(0, 1e9, allow_nan=False),
    st.integers(0, 10**6).map(lambda n: f" {n} "),
    st.integers(0, 10**4).map(lambda n: f"{n}e2"),
)
garbage_numbers = st.one_of(
    st.sampled_from(
        [
            "1,234",
            "1.234,56",
            "12 345",
            "R$ 10",
            "10%",
            "abc",
            "1_000",
            "١٢",
            "0x10",
            "−5",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "inf",
            "-1",
            "-0",
            "-12.5",
            "-1e999",
            "[1]",
            "null",
        ]
    ),
    st.integers(-(10**400), -(10**310)),
    st.integers(-(10**12), -1),
    st.floats(max_value=-1e-9),
    st.just(True),
    st.just(False),
    st.just([1, 2]),
    st.just({"value": 1}),
    st.just(float("nan")),
    st.just(float("inf")),
)
# Mostly good (or missing) numbers, so that most generated rows stay valid; a garbage one
# leaves its row out (§1.2).
missing_numbers = st.sampled_from(["", "  ", None, float("nan")])
numbers = st.one_of(good_numbers, good_numbers, good_numbers, good_numbers, missing_numbers, garbage_numbers)
huge_numbers = st.one_of(
    st.integers(LIMIT, 10**40).map(str),
    st.integers(LIMIT, 10**40),
    st.floats(9.1e15, 1e300),
    st.sampled_from(["1e30", str(2**63), "1e999", "9" * 400]),
    st.integers(10**310, 10**400),
)


def action(kind) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"action_type": st.just(kind)}, optional={"value": numbers, "1d_click": numbers})


@st.composite
def actions_lists(draw):
    known = draw(st.lists(st.sampled_from(KNOWN), unique=True, max_size=len(KNOWN)))
    unknown = draw(st.lists(st.sampled_from(UNKNOWN), max_size=4))  # unknown types may repeat
    acts = [draw(action(k)) for k in known] + [draw(action(k)) for k in unknown]
    acts += draw(
        st.lists(st.fixed_dictionaries({}, optional={"value": numbers, "action_type": st.just(None)}), max_size=1)
    )
    return draw(st.permutations(acts))


@st.composite
def valid_rows(draw, index: int, day: date | None = None, account=ACCOUNT[4:]):
    platform, position = draw(st.sampled_from(PLACEMENTS))
    day = day or draw(st.dates(FIRST, LAST))
    # Unique per row: a leading index, then text without digits (the md5 key stays unique).
    suffix = draw(
        st.text(
            st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="\x00"), min_size=1, max_size=8
        ).filter(lambda s: not s[0].isdigit())
    )
    row = {
        "account_id": account,
        "ad_id": f"{index}{suffix}" if draw(st.booleans()) else str(10**17 + index),
        "date_start": day.isoformat(),
        "publisher_platform": platform,
        "platform_position": position,
    }
    if draw(st.booleans()):
        row["date_stop"] = day.isoformat()
    for field in ("account_name", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_name"):
        if draw(st.booleans()):
            row[field] = draw(names)
    for field in ("spend", "impressions", "reach", "inline_link_clicks", "clicks", "cpc", "ctr"):
        if draw(st.integers(0, 4)):
            row[field] = draw(numbers)
    if draw(st.integers(0, 4)):
        row["actions"] = draw(st.one_of(actions_lists(), st.none()))
    if draw(st.booleans()):  # fields the rules do not read
        row[draw(st.sampled_from(["objective", "extra", "ad_name ", "\u202e", "actions_2"]))] = draw(names)
    return row


KEYS = ["ad_id", "date_start", "publisher_platform", "platform_position"]


@st.composite
def bad_rows(draw, index: int):
    row = draw(valid_rows(index))
    fault = draw(
        st.sampled_from(
            [
                "key missing",
                "key type",
                "key text",
                "date",
                "date_stop",
                "actions type",
                "action type",
                "repeated action",
                "huge",
                "huge action",
                "text type",
                "not a dict",
            ]
        )
    )
    if fault == "key missing":
        key = draw(st.sampled_from(KEYS))
        choice = draw(st.sampled_from(["drop", None, "", float("nan")]))
        if choice == "drop":
            del row[key]
        else:
            row[key] = choice
    elif fault == "key type":
        row[draw(st.sampled_from(KEYS))] = draw(st.sampled_from([1.5, True, [1], {"id": 1}, 2.0]))
    elif fault == "key text":
        key = draw(st.sampled_from(["ad_id", "publisher_platform", "platform_position"]))
        row[key] = row[key] + draw(st.sampled_from(["\x00", "\ud800", "\udfff"]))
    elif fault == "date":
        row["date_start"] = draw(
            st.sampled_from(
                [
                    "2025-02-30",
                    "2025-13-01",
                    "25-03-01",
                    "2025/03/01",
                    "01/03/2025",
                    "2025-03-01T00:00:00",
                    "２０２５-03-01",
                    "20250301",
                    "yesterday",
                    "2025-3-1",
                    " 2025-03-01",
                ]
            )
        )
        row["date_stop"] = row["date_start"]
    elif fault == "date_stop":
        row["date_stop"] = draw(st.sampled_from(["2025-03-08", "2025-02-28", "", "x", 5]))
    elif fault == "actions type":
        row["actions"] = draw(st.sampled_from(["lead", {"action_type": "lead", "value": "1"}, 7, True]))
    elif fault == "action type":
        row["actions"] = [*(row.get("actions") or []), draw(st.sampled_from(["lead", 3, None, ["lead", 1]]))]
    elif fault == "repeated action":
        kind = draw(st.sampled_from(KNOWN))
        row["actions"] = [
            {"action_type": kind, "value": "1"},
            *draw(st.lists(action("video_view"), max_size=2)),
            {"action_type": kind, "value": "2"},
        ]
    elif fault == "huge":
        row[draw(st.sampled_from(["spend", "impressions", "reach", "inline_link_clicks"]))] = draw(huge_numbers)
    elif fault == "huge action":
        kind = draw(st.sampled_from(KNOWN))
        row["actions"] = [a for a in (row.get("actions") or []) if a.get("action_type") != kind]
        row["actions"].append({"action_type": kind, "value": draw(huge_numbers)})
    elif fault == "text type":
        row[draw(st.sampled_from(["account_id", "campaign_name", "ad_name", "adset_id"]))] = draw(
            st.sampled_from([1.5, True, [1, 2], {"name": "x"}, ["a"]])
        )
    else:
        return draw(st.sampled_from([None, "row", 7, ["ad_id", "1"], ("a",)]))
    return row


@st.composite
def batches(draw, max_rows: int = 12):
    n = draw(st.integers(0, max_rows))
    return [draw(st.one_of(valid_rows(i), bad_rows(i))) for i in range(n)]


# ----------------------------------------------------------------------------- the properties


def _close(got, want, tol) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and not math.isnan(got) and abs(got - want) <= tol


def _check_row(got: dict, want: dict, row) -> None:
    for column in ("hash_id", *TEXT_COLUMNS, *COUNT_COLUMNS):
        assert got[column] == want[column], (column, got[column], want[column], row)
    assert got["data"].date() == want["data"]
    # Spend rounded to cents (the half-cent edge of a float is either way).
    assert abs(got["valor_gasto"] - want["valor_gasto"]) <= 0.005 + 1e-9 * want["valor_gasto"], row
    assert abs(got["valor_gasto"] * 100 - round(got["valor_gasto"] * 100)) < 1e-6 * max(1, got["valor_gasto"])
    spend = got["valor_gasto"]
    assert _close(got["ctr"], want["ctr"], 6e-5), row
    assert _close(got["cpc"], spend / want["_clicks"] if want["_clicks"] else None, 6e-5), row
    assert _close(got["cpl"], spend / want["_total"] if want["_total"] else None, 6e-5), row


def _expected(rows):
    good, bad = [], {}
    for i, row in enumerate(rows):
        try:
            good.append((i, oracle(row)))
        except Bad as fault:
            bad[i] = fault.field
    return good, bad


@settings(
    max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(batches())
# Regressions: a count past int64 was cast to -2^63 (the staging type check then failed the
# whole range); a 400-digit JSON integer raised OverflowError and "1e999" was read as
# garbage (0); 2^53 + 1 was stored as 2^53; a surrogate in ad_id raised UnicodeEncodeError
# while hashing; a list or dict name was stored as its Python repr.
@example(
    [
        {
            "ad_id": "1",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "impressions": "1e30",
        }
    ]
)
@example(
    [
        {
            "ad_id": "1",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "impressions": str(2**53 + 1),
            "spend": "123456789012345678.91",
        }
    ]
)
@example(
    [
        {
            "ad_id": "1",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "reach": 10**400,
            "actions": [{"action_type": "instagram_follower_count_total", "value": "1e999"}],
        },
        {
            "ad_id": "2",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "actions": [
                {"action_type": "instagram_follower_count_total", "value": "1e999"},
                {"action_type": "onsite_conversion.post_save_follow", "value": "5"},
            ],
        },
    ]
)
@example(
    [
        {"ad_id": "1\ud800", "date_start": "2025-03-02", "publisher_platform": "facebook", "platform_position": "feed"},
        {
            "ad_id": "2",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "account_id": {"id": 1},
            "actions": [{"action_type": "lead", "value": 10**19}],
        },
    ]
)
def test_the_cleaner_keeps_valid_rows_as_the_rules_say_and_names_each_bad_row(rows):
    good, bad = _expected(rows)
    rejected: list[RejectedRow] = []
    frame = clean_insights(rows, fetched_at=datetime(2025, 3, 8, tzinfo=UTC), rejected=rejected)

    assert list(frame.columns) == [*STAGING_COLUMNS, "fetched_at"]
    assert len(frame) == len(good)
    for (i, want), got in zip(good, frame.to_dict("records")):
        _check_row(got, want, rows[i])
    assert {r.index: r.field for r in rejected} == bad
    for r in rejected:
        if isinstance(rows[r.index], dict):  # named by its ad_id and date, the field and why
            assert (r.key["ad_id"], r.key["data"]) == (
                _shown(rows[r.index].get("ad_id")),
                _shown(rows[r.index].get("date_start")),
            )
            assert repr(r.key["ad_id"]) in r.message() and r.reason
        else:
            assert r.key == {"row": r.index} and f"insight row {r.index}" in r.message()
    # What the assets load passes the staging type check (or the range would fail).
    check = InsightsMetaAdsFrame.type_check(None, frame)
    assert check.success, check.description


def _shown(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return repr(value)


def test_without_a_rejection_list_the_first_bad_row_raises_naming_it():
    rows = [
        {
            "ad_id": "7",
            "date_start": "2025-03-02",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "reach": "1e20",
        }
    ]
    with pytest.raises(ValueError, match=r"ad_id='7' date='2025-03-02' .*reach 1e\+20 is larger than the cleaner"):
        clean_insights(rows)


# ----------------------------------------------------------------------------- raw rows


@st.composite
def raw_batches(draw):
    rows, expected_bad = [], {}
    for i in range(draw(st.integers(0, 10))):
        kind = draw(
            st.sampled_from(["good", "good", "good", "outside", "account", "key", "key type", "date", "not a dict"])
        )
        day = draw(st.dates(FIRST, LAST))
        row = draw(valid_rows(i, day=day))
        if kind == "outside":  # a date outside the partition's range (before or after)
            other = draw(
                st.one_of(
                    st.dates(date(2000, 1, 1), FIRST - timedelta(days=1)),
                    st.dates(LAST + timedelta(days=1), date(2100, 1, 1)),
                )
            )
            row["date_start"] = row["date_stop"] = other.isoformat()
            expected_bad[i] = "date_start"
        elif kind == "account":
            row["account_id"] = draw(st.sampled_from(["1002", "act_1002", "act_1001 ", "1001; --"]))
            expected_bad[i] = "account_id"
        elif kind == "key":
            key = draw(st.sampled_from(KEYS))
            row[key] = draw(st.sampled_from([None, ""]))
            expected_bad[i] = key
        elif kind == "key type":
            key = draw(st.sampled_from(["ad_id", "publisher_platform", "platform_position"]))
            row[key] = draw(st.sampled_from([[1], {"a": 1}, True, 1.5]))
            expected_bad[i] = key
        elif kind == "date":
            row["date_start"] = draw(st.sampled_from(["2025-02-30", "03/02/2025", "2025-03-02T10:00", 20250302]))
            expected_bad[i] = "date_start"
        elif kind == "not a dict":
            row = draw(st.sampled_from([None, "x", 3, [1]]))
            expected_bad[i] = "row"
        rows.append(row)
    return rows, expected_bad


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_batches())
@example(
    (
        [
            {"ad_id": ["1"], "date_start": "2025-03-02", "publisher_platform": "facebook", "platform_position": "feed"},
            {
                "ad_id": "2\ud800",
                "date_start": "2025-03-02",
                "publisher_platform": "facebook",
                "platform_position": "feed",
            },
        ],
        {0: "ad_id"},
    )
)
def test_raw_keeps_each_row_of_the_account_and_range_exactly_and_names_the_others(case):
    rows, expected_bad = case
    rejected: list[RejectedRow] = []
    fetched = datetime(2025, 3, 8, tzinfo=UTC)
    cols = raw_rows(rows, ACCOUNT, FIRST, LAST, fetched, rejected=rejected)
    assert {r.index: r.field for r in rejected} == expected_bad
    kept = [row for i, row in enumerate(rows) if i not in expected_bad]
    assert cols["payload"] == [canonical_json(row) for row in kept]  # the payload exactly as sent
    assert cols["ad_id"] == [str(row["ad_id"]) for row in kept]
    assert cols["data"] == [date.fromisoformat(row["date_start"]) for row in kept]
    assert all(FIRST <= d <= LAST for d in cols["data"]) and set(cols["account_id"]) <= {ACCOUNT}
    for r in rejected:
        assert r.key.get("account_id", ACCOUNT) == ACCOUNT and r.reason
        if "ad_id" in r.key:  # named by its ad_id and date
            assert repr(r.key["ad_id"]) in r.message() and repr(r.key["data"]) in r.message()


@pytest.mark.parametrize("data", [{"a": 1}, "rows", 5, True, None])
def test_a_page_whose_data_is_not_a_list_fails_the_range_naming_it(data):
    with pytest.raises(ValueError, match=rf"Meta insights for {ACCOUNT} 2025-03-01..2025-03-07: a page's 'data' is"):
        raw_rows(data, ACCOUNT, FIRST, LAST, datetime(2025, 3, 8, tzinfo=UTC), rejected=[])
