"""follows_and_unfollows parsing on hand-made Graph API responses with known answers.

Shape per the Instagram Account Insights reference (metric_type=total_value,
breakdown=follow_type): data[].total_value.{value, breakdowns[{dimension_keys, results}]}.
"""

from __future__ import annotations

import copy

import pytest

from vetorial_assets.instagram.follows import FollowsDay, parse_follows


def response(*results, value=None, keys=("follow_type",), **entry_extra):
    """A one-day follows_and_unfollows answer; results as (follow_type, value) pairs."""
    entry = {
        "name": "follows_and_unfollows",
        "period": "day",
        "title": "Follows and unfollows",
        "description": "The number of accounts that followed you and the number of accounts "
        "that unfollowed you or left Instagram in the selected time period.",
        "total_value": {
            "value": sum(v for _, v in results) if value is None else value,
            "breakdowns": [
                {
                    "dimension_keys": list(keys),
                    "results": [{"dimension_values": [kind], "value": v} for kind, v in results],
                }
            ],
        },
        "id": "17841400000000001/insights/follows_and_unfollows/day",
    }
    entry.update(entry_extra)
    return {"data": [entry]}


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ((("FOLLOWER", 9), ("NON_FOLLOWER", 3)), FollowsDay(9, 3, 6)),
        ((("FOLLOWER", 2), ("NON_FOLLOWER", 5)), FollowsDay(2, 5, -3)),  # a losing day
        ((("FOLLOWER", 4),), FollowsDay(4, 0, 4)),  # a bucket Meta leaves out is 0
        ((("NON_FOLLOWER", 1),), FollowsDay(0, 1, -1)),
        ((("NON_FOLLOWER", 3), ("FOLLOWER", 8), ("UNKNOWN", 2)), FollowsDay(8, 3, 5)),
        ((("FOLLOWER", 0), ("NON_FOLLOWER", 0)), FollowsDay(0, 0, 0)),  # measured zero != no data
    ],
)
def test_follower_is_gained_non_follower_is_lost(results, expected):
    day = parse_follows(response(*results))
    assert day == expected
    assert day.net == day.follows - day.unfollows


def test_unknown_follow_type_is_kept_apart_from_gains_and_losses():
    day = parse_follows(response(("FOLLOWER", 8), ("NON_FOLLOWER", 3), ("UNKNOWN", 2)))
    assert (day.follows, day.unfollows, day.net, day.unknown) == (8, 3, 5, 2)


@pytest.mark.parametrize("empty", [{"data": []}, {"data": [], "paging": {"previous": "x", "next": "y"}}])
def test_no_data_is_none_not_zeros(empty):
    # Under 100 followers, or a day not available yet (up to 48 h late): retry later.
    assert parse_follows(empty) is None


def test_a_zero_total_without_breakdowns_is_zero():
    answer = response(("FOLLOWER", 0))
    del answer["data"][0]["total_value"]["breakdowns"]
    assert parse_follows(answer) == FollowsDay(0, 0, 0)


def test_string_numbers_are_tolerated():
    assert parse_follows(response(("FOLLOWER", "7"), ("NON_FOLLOWER", "2"), value=9)) == FollowsDay(7, 2, 5)


def test_follow_type_found_among_several_dimension_keys():
    answer = response(value=5)
    answer["data"][0]["total_value"]["breakdowns"] = [
        {
            "dimension_keys": ["media_product_type", "follow_type"],
            "results": [{"dimension_values": ["REEL", "FOLLOWER"], "value": 5}],
        }
    ]
    assert parse_follows(answer) == FollowsDay(5, 0, 5)


def test_other_metrics_in_the_answer_are_ignored():
    answer = response(("FOLLOWER", 3), ("NON_FOLLOWER", 1))
    answer["data"].insert(0, {"name": "reach", "period": "day", "total_value": {"value": 900}})
    assert parse_follows(answer) == FollowsDay(3, 1, 2)


def _without(path):
    def mutate(answer):
        target = answer
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return answer

    return mutate


def _replace(path, value):
    def mutate(answer):
        target = answer
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return answer

    return mutate


BREAKDOWN = ("data", 0, "total_value", "breakdowns", 0)
MALFORMED = {
    "no breakdowns, non-zero total": (
        _without(("data", 0, "total_value", "breakdowns")),
        r"no 'breakdowns'.*breakdown=follow_type",
    ),
    "empty breakdowns, non-zero total": (_replace(("data", 0, "total_value", "breakdowns"), []), r"no 'breakdowns'"),
    "no total_value": (_without(("data", 0, "total_value")), r"no 'total_value'.*metric_type=total_value"),
    "no data key": (lambda a: {"paging": {}}, r"no 'data' list"),
    "data not a list": (_replace(("data",), {"name": "follows_and_unfollows"}), r"'data' must be a list"),
    "graph error": (lambda a: {"error": {"message": "Invalid OAuth", "code": 190}}, r"Graph API error \(code 190\)"),
    "wrong breakdown": (
        _replace(BREAKDOWN + ("dimension_keys",), ["media_product_type"]),
        r"no breakdown by follow_type",
    ),
    "no results": (_without(BREAKDOWN + ("results",)), r"no 'results' list"),
    "new follow_type": (
        _replace(BREAKDOWN + ("results",), [{"dimension_values": ["FRIEND"], "value": 1}]),
        r"unknown follow_type 'FRIEND'",
    ),
    "repeated follow_type": (
        _replace(
            BREAKDOWN + ("results",),
            [{"dimension_values": ["FOLLOWER"], "value": 1}, {"dimension_values": ["FOLLOWER"], "value": 2}],
        ),
        r"'FOLLOWER' appears more than once",
    ),
    "garbage count": (
        _replace(BREAKDOWN + ("results",), [{"dimension_values": ["FOLLOWER"], "value": "abc"}]),
        r"FOLLOWER is not a count",
    ),
    "negative count": (
        _replace(BREAKDOWN + ("results",), [{"dimension_values": ["FOLLOWER"], "value": -2}]),
        r"not a non-negative count",
    ),
    "fractional count": (
        _replace(BREAKDOWN + ("results",), [{"dimension_values": ["FOLLOWER"], "value": 1.5}]),
        r"not a non-negative count",
    ),
    "missing count": (
        _replace(BREAKDOWN + ("results",), [{"dimension_values": ["FOLLOWER"]}]),
        r"not a non-negative count: None",
    ),
    "no dimension value": (
        _replace(BREAKDOWN + ("results",), [{"value": 3}]),
        r"without a follow_type dimension value",
    ),
    "only another metric": (_replace(("data", 0, "name"), "reach"), r"no follows_and_unfollows entry"),
    "two days in one answer": (lambda a: {"data": a["data"] * 2}, r"expected one entry for the day, got 2"),
}


@pytest.mark.parametrize(("mutate", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_answers_are_clear_errors(mutate, message):
    answer = mutate(copy.deepcopy(response(("FOLLOWER", 9), ("NON_FOLLOWER", 3))))
    with pytest.raises(ValueError, match=message):
        parse_follows(answer)


@pytest.mark.parametrize("not_a_dict", [None, [], "data", 3])
def test_an_answer_that_is_not_an_object_is_a_clear_error(not_a_dict):
    with pytest.raises(ValueError, match="expected a JSON object"):
        parse_follows(not_a_dict)
