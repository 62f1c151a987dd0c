"""Bad input, Instagram follows (issue 11, build 5): generated `follows_and_unfollows` answers.

Well-formed answers (any order of results and breakdowns, extra breakdowns and entries of
other metrics, counts as JSON integers, numeric strings or whole floats) give exactly the
follows/unfollows/net an independent reading of docs/business-rules.md §2 gives; every
malformed one (a shape §2.3 lists, a count that is negative, fractional, NaN, infinite, a
string with separators, past bigint, of the wrong type, an unhashable follow_type) is a
ValueError naming what is wrong; nothing else ever escapes.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.bad_input_budget import examples
from vetorial_assets.instagram.follows import METRIC, FollowsDay, parse_follows

KINDS = ["FOLLOWER", "NON_FOLLOWER", "UNKNOWN"]
MAX_COUNT = 2**63 - 1

# ----------------------------------------------------------------------------- the oracle (§2)


class Malformed(Exception):
    pass


def count(value) -> int:
    if isinstance(value, bool):
        raise Malformed
    if isinstance(value, str):
        if not re.fullmatch(r"\s*[0-9]+\s*", value):
            raise Malformed
        value = int(value.strip().lstrip("0") or "0") if len(value.strip().lstrip("0")) <= 19 else MAX_COUNT + 1
    if isinstance(value, float):
        if not (math.isfinite(value) and value == int(value) and abs(value) < 2**53):
            raise Malformed
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise Malformed
    return value


def oracle(response) -> FollowsDay | None:
    if not isinstance(response, dict) or "error" in response or not isinstance(response.get("data"), list):
        raise Malformed
    data = response["data"]
    if not data:
        return None  # no data: retried, never 0
    entries = [e for e in data if isinstance(e, dict) and e.get("name", METRIC) == METRIC]
    if len(entries) != 1 or not isinstance(entries[0].get("total_value"), dict):
        raise Malformed
    total = entries[0]["total_value"]
    breakdowns = total.get("breakdowns")
    if not breakdowns:
        if "value" in total and count(total["value"]) == 0:
            return FollowsDay(0, 0, 0)
        raise Malformed
    if not isinstance(breakdowns, list):
        raise Malformed
    by_type = [
        b
        for b in breakdowns
        if isinstance(b, dict) and isinstance(b.get("dimension_keys"), list) and "follow_type" in b["dimension_keys"]
    ]
    if len(by_type) != 1 or not isinstance(by_type[0].get("results"), list):
        raise Malformed
    position = by_type[0]["dimension_keys"].index("follow_type")
    counts: dict[str, int] = {}
    for result in by_type[0]["results"]:
        if not isinstance(result, dict) or not isinstance(result.get("dimension_values"), list):
            raise Malformed
        if len(result["dimension_values"]) <= position:
            raise Malformed
        kind = result["dimension_values"][position]
        if not isinstance(kind, str) or kind not in KINDS or kind in counts:
            raise Malformed
        counts[kind] = count(result.get("value"))
    gained, lost = counts.get("FOLLOWER", 0), counts.get("NON_FOLLOWER", 0)
    return FollowsDay(gained, lost, gained - lost, counts.get("UNKNOWN", 0))


# ----------------------------------------------------------------------------- generated answers

good_counts = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, MAX_COUNT),
    st.integers(0, 10**6).map(str),
    st.integers(0, 10**6).map(lambda n: f" {n}\n"),
    st.integers(0, 10**6).map(float),
)
bad_counts = st.one_of(
    st.integers(max_value=-1),
    st.integers(MAX_COUNT + 1, 10**40),
    st.just(True),
    st.just(None),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not (math.isfinite(x) and x == int(x))),
    st.floats(2.0**53, 1e300),
    st.sampled_from(
        [
            "1,234",
            "1.234",
            "-5",
            "+5",
            "1_000",
            "١٢",
            "7.0",
            "NaN",
            "Infinity",
            "",
            "  ",
            "0x10",
            "9" * 25,
            "9" * 5000,
            "3 4",
        ]
    ),
    st.just([1]),
    st.just({"value": 1}),
)
counts = st.one_of(good_counts, good_counts, bad_counts)


@st.composite
def breakdown(draw):
    keys = draw(
        st.permutations(
            ["follow_type", *draw(st.lists(st.sampled_from(["age", "city", "country"]), unique=True, max_size=2))]
        )
    )
    position = keys.index("follow_type")
    kinds = draw(st.lists(st.sampled_from(KINDS), unique=True, max_size=3))
    if draw(st.integers(0, 9)) == 0:  # a malformed kind: unknown, repeated, not text, missing
        kinds.append(
            draw(
                st.one_of(
                    st.sampled_from(["FOLLOWERS", "follower", "", "NEW", *KINDS]),
                    st.just(["FOLLOWER"]),
                    st.just({"k": 1}),
                    st.just(None),
                    st.just(3),
                )
            )
        )
    results = []
    for kind in kinds:
        values = [draw(st.sampled_from(["x", "y"])) for _ in keys]
        values[position] = kind
        if draw(st.integers(0, 19)) == 0:
            values = values[:position]  # no follow_type value
        result = {"dimension_values": values}
        if draw(st.integers(0, 9)):
            result["value"] = draw(counts)
        results.append(result)
    out = {"dimension_keys": keys, "results": results}
    if draw(st.integers(0, 19)) == 0:
        out["results"] = draw(st.sampled_from([{}, "x", None, 3]))
    return out


@st.composite
def responses(draw):
    shape = draw(st.integers(0, 29))
    if shape == 0:
        return draw(
            st.sampled_from(
                [
                    [],
                    "data",
                    None,
                    5,
                    {"error": {"code": 190}},
                    {"error": "x"},
                    {},
                    {"data": {}},
                    {"data": "x"},
                    {"data": None},
                ]
            )
        )
    if shape == 1:
        return {"data": []}
    total: dict = {}
    if draw(st.integers(0, 9)):
        total["value"] = draw(counts)
    which = draw(st.integers(0, 19))
    if which == 0:
        total["breakdowns"] = draw(st.sampled_from([[], None, {}, "x", [{"dimension_keys": ["age"], "results": []}]]))
    elif which == 1:
        total["breakdowns"] = [draw(breakdown()), draw(breakdown())]  # two follow_type breakdowns
    elif which == 2:
        pass  # no breakdowns at all
    else:
        others = draw(
            st.lists(st.fixed_dictionaries({"dimension_keys": st.just(["age"]), "results": st.just([])}), max_size=1)
        )
        total["breakdowns"] = draw(st.permutations([draw(breakdown()), *others]))
    entry = {"period": "day", "id": "178/insights/follows_and_unfollows/day", "total_value": total}
    if draw(st.booleans()):
        entry["name"] = METRIC
    if draw(st.integers(0, 19)) == 0:
        entry["total_value"] = draw(st.sampled_from([None, 5, [], "x"]))
    data = [entry]
    data += draw(st.lists(st.sampled_from([{"name": "reach", "values": []}, {"name": ["x"]}]), max_size=2))
    if draw(st.integers(0, 19)) == 0:
        data.append(draw(st.sampled_from([dict(entry), "x", 3, None])))
    return {"data": draw(st.permutations(data)), "paging": {"previous": "p"}}


@settings(max_examples=examples(500), deadline=None)
@given(responses())
# Regressions: an unhashable follow_type raised TypeError; "1_000", "١٢" and 1e300 were taken
# as counts; a count past bigint and a 5,000-digit string went through (the latter as
# Python's own "Exceeds the limit" message, naming no field).
@example(
    {
        "data": [
            {
                "total_value": {
                    "value": 1,
                    "breakdowns": [
                        {
                            "dimension_keys": ["follow_type"],
                            "results": [{"dimension_values": [["FOLLOWER"]], "value": 1}],
                        }
                    ],
                }
            }
        ]
    }
)
@example(
    {
        "data": [
            {
                "total_value": {
                    "value": 1,
                    "breakdowns": [
                        {
                            "dimension_keys": ["follow_type"],
                            "results": [{"dimension_values": ["FOLLOWER"], "value": "9" * 5000}],
                        }
                    ],
                }
            }
        ]
    }
)
def test_an_answer_parses_as_the_rules_say_or_is_refused_saying_what_is_wrong(response):
    try:
        want = oracle(response)
    except Malformed:
        with pytest.raises(ValueError) as refused:
            parse_follows(response)
        message = str(refused.value)
        assert message.startswith(f"{METRIC}: ") and len(message) < 400, message
    else:
        got = parse_follows(response)
        assert got == want and (got is None or got.unknown == want.unknown)


@pytest.mark.parametrize(
    "value, shown",
    [
        ("1_000", "'1_000'"),
        ("١٢", "'١٢'"),
        (1e300, "1e+300"),
        (2**70, "1180591620717411303424, more than a count can be"),
        ("9" * 5000, "more than a count can be"),
    ],
)
def test_counts_that_are_no_exact_bigint_are_refused_naming_the_follow_type(value, shown):
    response = {
        "data": [
            {
                "total_value": {
                    "value": 1,
                    "breakdowns": [
                        {
                            "dimension_keys": ["follow_type"],
                            "results": [{"dimension_values": ["FOLLOWER"], "value": value}],
                        }
                    ],
                }
            }
        ]
    }
    with pytest.raises(ValueError, match=r"follow_type FOLLOWER is") as refused:
        parse_follows(response)
    assert shown.split(",")[0] in str(refused.value) or shown in str(refused.value)
