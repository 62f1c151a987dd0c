"""Business rules of the Meta insights cleaner on hand-made payloads with known answers.

Each payload is the shape the Graph API returns for level=ad, time_increment=1,
breakdowns publisher_platform+platform_position, action_breakdowns action_type.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from dagster import check_dagster_type

from vetorial_assets.meta.cleaner import COUNT_COLUMNS, STAGING_COLUMNS, clean_insights
from vetorial_assets.meta.staging_type import InsightsMetaAdsFrame


def insight(actions=None, **fields):
    """One raw API row, every value a string as Meta sends it; `actions` as {type: value}
    (or, to test malformed input, anything else, passed through as is)."""
    if actions is None or isinstance(actions, dict):
        actions = [{"action_type": k, "value": v} for k, v in (actions or {}).items()]
    row = {
        "account_id": "100000000000001",
        "account_name": "AllpFit",
        "campaign_id": "120200000000000101",
        "campaign_name": "Leads | Março",
        "adset_id": "120200000000000201",
        "adset_name": "Feminino 25-44",
        "ad_id": "120200000000000301",
        "ad_name": "Vídeo depoimento",
        "date_start": "2024-03-05",
        "date_stop": "2024-03-05",
        "spend": "50.00",
        "impressions": "1000",
        "reach": "800",
        "inline_link_clicks": "0",
        "publisher_platform": "instagram",
        "platform_position": "instagram_stories",
        "actions": actions,
    }
    row.update(fields)
    return row


def clean_one(**kwargs) -> pd.Series:
    frame = clean_insights([insight(**kwargs)])
    assert len(frame) == 1
    return frame.iloc[0]


# -- contract -------------------------------------------------------------------------------


def test_columns_dtypes_and_order_match_the_staging_contract():
    frame = clean_insights([insight(), insight(ad_id="120200000000000302")])
    assert list(frame.columns) == list(STAGING_COLUMNS)
    assert frame["data"].dtype == "datetime64[ns]"
    for name in ("valor_gasto", "ctr", "cpc", "cpl"):
        assert frame[name].dtype == np.float64, name
    for name in COUNT_COLUMNS:
        assert frame[name].dtype == np.int64, name
    row = frame.iloc[0]
    assert row["data"] == pd.Timestamp("2024-03-05")
    assert (row["account_id"], row["campaign_name"], row["adset_name"], row["ad_name"]) == (
        "act_100000000000001",
        "Leads | Março",
        "Feminino 25-44",
        "Vídeo depoimento",
    )
    assert (row["plataforma"], row["posicionamento"]) == ("instagram", "instagram_stories")


def test_hash_id_is_md5_of_ad_date_platform_position_without_separator():
    row = clean_one(
        ad_id="23851234567890123",
        date_start="2024-11-30",
        date_stop="2024-11-30",
        publisher_platform="facebook",
        platform_position="feed",
    )
    expected = hashlib.md5(b"238512345678901232024-11-30facebookfeed").hexdigest()
    assert row["hash_id"] == expected


def test_empty_input_gives_an_empty_frame_with_the_contract():
    frame = clean_insights([])
    assert list(frame.columns) == list(STAGING_COLUMNS) and frame.empty
    assert frame["impressoes"].dtype == np.int64


def test_any_iterable_of_rows_is_accepted():
    frame = clean_insights(insight(ad_id=str(i)) for i in range(3))
    assert frame["ad_id"].tolist() == ["0", "1", "2"]


# -- clicks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inline_link_clicks", "actions", "expected"),
    [
        ("12", {"link_click": "0"}, 12),  # the action came zeroed
        ("0", {"link_click": "9"}, 9),  # the field came zeroed
        # Issue 13: the larger of the two, not their sum (inline link clicks are the 1-day-click
        # part of link_click: the seed's sum counted those clicks twice).
        ("4", {"link_click": "6"}, 6),
        ("7", {"link_click": "6"}, 7),
        ("6", {"link_click": "6"}, 6),
        ("4", {"link_click": "6", "post_engagement": "500"}, 6),  # likes are never clicks
        ("0", {"post_engagement": "500", "page_engagement": "700"}, 0),
        (None, {"link_click": "3"}, 3),  # field missing entirely
        ("", {"link_click": "3"}, 3),  # empty is missing: 0
    ],
)
def test_clicks_are_link_clicks_never_post_engagement(inline_link_clicks, actions, expected):
    row = clean_one(inline_link_clicks=inline_link_clicks, actions=actions)
    assert row["cliques"] == expected


# -- leads ----------------------------------------------------------------------------------

# (actions, form, site, messaging, total). Meta's `lead` = lead_grouped (on-Facebook) +
# offsite (pixel) leads, so a total built by adding `lead` to its parts double counts:
# the seed's rule gave 2x form leads in the first case and 14 in the third.
LEAD_CASES = {
    "instant form campaign": ({"lead": "3", "onsite_conversion.lead_grouped": "3", "leadgen_grouped": "3"}, 3, 0, 0, 3),
    "pixel campaign": ({"lead": "2", "offsite_conversion.fb_pixel_lead": "2"}, 0, 2, 0, 2),
    "every origin": (
        {
            "lead": "5",
            "onsite_conversion.lead_grouped": "3",
            "offsite_conversion.fb_pixel_lead": "2",
            "onsite_conversion.messaging_first_reply": "4",
        },
        3,
        2,
        4,
        9,
    ),
    "components without lead": (
        {"onsite_conversion.lead_grouped": "3", "offsite_conversion.fb_pixel_lead": "2"},
        3,
        2,
        0,
        5,
    ),
    "lead alone is offsite": ({"lead": "4"}, 0, 4, 0, 4),
    "lead and form: rest is offsite": ({"lead": "5", "onsite_conversion.lead_grouped": "3"}, 3, 2, 0, 5),
    "offsite beyond the pixel": ({"lead": "5", "offsite_conversion.fb_pixel_lead": "2"}, 0, 5, 0, 5),
    "lead lagging its parts": (
        {"lead": "2", "onsite_conversion.lead_grouped": "3", "offsite_conversion.fb_pixel_lead": "1"},
        3,
        1,
        0,
        4,
    ),
    "messaging only": ({"onsite_conversion.messaging_first_reply": "2"}, 0, 0, 2, 2),
    "no leads": ({"link_click": "40"}, 0, 0, 0, 0),
    "short messaging name is not Meta's": ({"messaging_first_reply": "7"}, 0, 0, 0, 0),
}


@pytest.mark.parametrize(("actions", "form", "site", "messaging", "total"), LEAD_CASES.values(), ids=LEAD_CASES.keys())
def test_leads_by_origin_and_a_total_that_never_double_counts(actions, form, site, messaging, total):
    row = clean_one(actions=actions)
    assert (row["leads_formulario"], row["leads_site"], row["leads_mensagem"], row["leads_total"]) == (
        form,
        site,
        messaging,
        total,
    )
    assert row["leads_formulario"] + row["leads_site"] + row["leads_mensagem"] == row["leads_total"]


def test_cost_per_lead_uses_the_total_without_double_counting():
    row = clean_one(spend="90.00", actions=LEAD_CASES["every origin"][0])
    assert row["cpl"] == 10.0  # 90 / 9, not 90 / 14 as the seed's sum would give


# -- followers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ({"instagram_follower_count_total": "7", "onsite_conversion.post_save_follow": "3"}, 7),
        ({"onsite_conversion.post_save_follow": "3"}, 3),
        ({"instagram_follower_count_total": "5"}, 5),
        ({"instagram_follower_count_total": "0", "onsite_conversion.post_save_follow": "3"}, 0),
        ({"instagram_follower_count_total": "", "onsite_conversion.post_save_follow": "3"}, 3),
        ({"like": "40"}, 0),  # Facebook Page likes are not Instagram followers
        ({"like": "40", "onsite_conversion.post_save_follow": "2"}, 2),
        ({}, 0),
    ],
)
def test_instagram_followers_follow_the_seed_priority(actions, expected):
    assert clean_one(actions=actions)["seguidores_instagram"] == expected


# -- numbers, garbage and derived ratios ----------------------------------------------------


@pytest.mark.parametrize("missing", ["", "   ", None, float("nan")])
def test_missing_numbers_are_zero_and_ratios_null(missing):
    row = clean_one(
        spend=missing,
        impressions=missing,
        reach=missing,
        inline_link_clicks=missing,
        actions={"link_click": missing, "lead": missing},
    )
    assert row["valor_gasto"] == 0.0
    assert (row["impressoes"], row["alcance"], row["cliques"], row["leads_total"]) == (0, 0, 0, 0)
    assert math.isnan(row["ctr"]) and math.isnan(row["cpc"]) and math.isnan(row["cpl"])


GARBAGE = ["abc", "1,234", "NaN", "inf", "-5", -5, -0.01, "−5", [1], {"v": 1}, True, "R$ 10"]


@pytest.mark.parametrize("field", ["spend", "impressions", "reach", "inline_link_clicks"])
@pytest.mark.parametrize("garbage", GARBAGE, ids=repr)
def test_a_garbage_number_leaves_its_row_out_naming_ad_date_and_field(field, garbage):
    from vetorial_assets.meta.cleaner import RejectedRow

    rows = [insight(ad_id="1", spend="10"), insight(ad_id="2", **{field: garbage}), insight(ad_id="3")]
    rejected: list[RejectedRow] = []
    frame = clean_insights(rows, rejected=rejected)
    # Never a silent 0: the row is out (the others cleaned as usual), and it is named.
    assert list(frame["ad_id"]) == ["1", "3"] and frame["valor_gasto"].tolist() == [10.0, 50.0]
    (bad,) = rejected
    assert (bad.index, bad.field, bad.key["ad_id"], bad.key["data"]) == (1, field, "2", "2024-03-05")
    assert "is not a non-negative number" in bad.reason
    with pytest.raises(ValueError, match=rf"insight ad_id='2' date='2024-03-05' .*: {field} .* is not a non-negative"):
        clean_insights(rows)


@pytest.mark.parametrize(
    "kind", ["link_click", "lead", "instagram_follower_count_total", "onsite_conversion.post_save_follow"]
)
@pytest.mark.parametrize("garbage", ["abc", "-1", "n/a", [2]], ids=repr)
def test_a_garbage_action_value_leaves_its_row_out(kind, garbage):
    rejected = []
    frame = clean_insights([insight(ad_id="1"), insight(ad_id="2", actions={kind: garbage})], rejected=rejected)
    assert list(frame["ad_id"]) == ["1"]
    (bad,) = rejected
    assert (bad.field, bad.key["ad_id"]) == ("actions", "2") and kind in bad.reason


def test_minus_zero_and_fractions_are_numbers_not_garbage():
    row = clean_one(spend="-0", impressions="-0.0", inline_link_clicks="0.4")
    assert (row["valor_gasto"], row["impressoes"], row["cliques"]) == (0.0, 0, 0)


def test_missing_number_fields_and_actions_are_zero():
    raw = insight()
    for name in ("spend", "impressions", "reach", "inline_link_clicks", "actions"):
        del raw[name]
    row = clean_insights([raw]).iloc[0]
    assert (row["valor_gasto"], row["impressoes"], row["cliques"], row["leads_total"]) == (0, 0, 0, 0)


def test_numbers_parse_from_strings_and_json_numbers():
    row = clean_one(
        spend="12.3456",
        impressions=" 2000 ",
        reach=1500,
        inline_link_clicks="2.5",
        actions={"lead": 1.5, "onsite_conversion.lead_grouped": "1.5"},
    )
    assert row["valor_gasto"] == 12.35  # 2 decimals
    assert (row["impressoes"], row["alcance"], row["cliques"]) == (2000, 1500, 3)  # half up
    assert row["leads_formulario"] == 2 and row["leads_total"] == 2


def test_derived_ratios():
    row = clean_one(
        spend="30.00",
        impressions="2000",
        inline_link_clicks="10",
        actions={"link_click": "5", "lead": "4", "onsite_conversion.lead_grouped": "4"},
    )
    assert row["cliques"] == 10  # max(10, 5)
    assert row["ctr"] == pytest.approx(0.5)  # 10 / 2000 * 100, in percent
    assert row["cpc"] == pytest.approx(3.0)  # 30 / 10
    assert row["cpl"] == pytest.approx(7.5)  # 30 / 4


@pytest.mark.parametrize(
    ("fields", "null"),
    [
        ({"impressions": "0", "inline_link_clicks": "3"}, {"ctr", "cpl"}),
        ({"inline_link_clicks": "0"}, {"cpc", "cpl"}),
        ({"spend": "0", "impressions": "0", "inline_link_clicks": "0"}, {"ctr", "cpc", "cpl"}),
    ],
)
def test_ratios_are_null_when_their_denominator_is_zero(fields, null):
    row = clean_one(**fields)
    for ratio in ("ctr", "cpc", "cpl"):
        assert math.isnan(row[ratio]) == (ratio in null), ratio


def test_unknown_and_malformed_action_types_are_ignored():
    row = clean_one(actions={"video_view": "900", "omni_purchase": "3", "post_reaction": "12"}, inline_link_clicks="0")
    assert (row["cliques"], row["leads_total"], row["seguidores_instagram"]) == (0, 0, 0)
    raw = insight(actions={"lead": "2"})
    raw["actions"] += [{"value": "99"}, {"action_type": None, "value": "1"}, {"action_type": ["lead"], "value": "5"}]
    assert clean_insights([raw]).iloc[0]["leads_total"] == 2


def test_ids_sent_as_json_integers_are_text():
    row = clean_one(ad_id=120200000000000301, account_id=100000000000001)
    assert row["ad_id"] == "120200000000000301" and row["account_id"] == "act_100000000000001"
    assert row["hash_id"] == hashlib.md5(b"1202000000000003012024-03-05instagraminstagram_stories").hexdigest()


def test_missing_names_are_null():
    raw = insight()
    del raw["campaign_name"]
    assert clean_insights([raw]).iloc[0]["campaign_name"] is None


def test_fetched_at_is_an_optional_utc_column():
    moment = datetime(2024, 3, 6, 9, 30, tzinfo=UTC)
    frame = clean_insights([insight()], fetched_at=moment)
    assert list(frame.columns) == [*STAGING_COLUMNS, "fetched_at"]
    assert frame["fetched_at"].iloc[0] == pd.Timestamp(moment)
    assert str(frame["fetched_at"].dtype) == "datetime64[ns, UTC]"


# -- bad input is a clear error -------------------------------------------------------------


@pytest.mark.parametrize("field", ["ad_id", "date_start", "publisher_platform", "platform_position"])
@pytest.mark.parametrize("how", ["absent", "none", "empty"])
def test_a_row_without_a_key_field_is_a_clear_error(field, how):
    bad = insight(ad_id="2")
    if how == "absent":
        del bad[field]
    else:
        bad[field] = None if how == "none" else ""
    ad = "None" if field == "ad_id" and how != "empty" else ("''" if field == "ad_id" else "'2'")
    day = "None" if field == "date_start" and how != "empty" else ("''" if field == "date_start" else "'2024-03-05'")
    with pytest.raises(ValueError, match=rf"insight ad_id={ad} date={day} .*key field '{field}' is missing"):
        clean_insights([insight(ad_id="1"), bad])


AD, DAY = "insight ad_id='120200000000000301'", "date='2024-03-05'"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"date_start": "05/03/2024", "date_stop": "05/03/2024"},
            rf"{AD} date='05/03/2024' .*: date_start .* YYYY-MM-DD",
        ),
        ({"date_start": "2024-02-30", "date_stop": "2024-02-30"}, rf"{AD} date='2024-02-30' .*: date_start"),
        ({"date_stop": "2024-03-06"}, rf"{AD} {DAY} .*: date_stop .* daily"),
        ({"actions": "lead:3"}, rf"{AD} {DAY} .*: 'actions' must be a list"),
        ({"actions": ["lead"]}, rf"{AD} {DAY} .*: each action must be a dict"),
        (
            {"actions": [{"action_type": "lead", "value": "1"}, {"action_type": "lead", "value": "2"}]},
            rf"{AD} {DAY} .*: action_type 'lead' appears more than once",
        ),
        ({"ad_id": {"id": "1"}}, r"insight ad_id=\"\{'id': '1'\}\" .*: key field 'ad_id' must be a string"),
    ],
)
def test_malformed_rows_are_clear_errors(fields, message):
    with pytest.raises(ValueError, match=message):
        clean_insights([insight(**fields)])


def test_a_row_that_is_not_a_dict_is_a_clear_error():
    with pytest.raises(ValueError, match=r"row 1: expected a dict, got list"):
        clean_insights([insight(), ["not", "a", "row"]])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"actions": {"action_type": "lead", "value": "1"}}, "actions"),  # the sandbox's malform_actions
        ({"date_start": "2024-13-01", "date_stop": "2024-13-01"}, "date_start"),
        ({"publisher_platform": ""}, "publisher_platform"),
        ({"actions": [{"action_type": "lead", "value": "1"}, {"action_type": "lead", "value": "1"}]}, "actions"),
    ],
)
def test_with_a_rejection_list_a_bad_row_is_left_out_and_the_rest_cleaned(fields, field):
    from vetorial_assets.meta.cleaner import RejectedRow

    bad_row = insight(ad_id="2")
    bad_row.update(fields)  # as given: insight() would turn a dict of actions into a list
    rows = [insight(ad_id="1"), bad_row, insight(ad_id="3")]
    rejected: list[RejectedRow] = []
    frame = clean_insights(rows, fetched_at=[datetime(2024, 3, 5, tzinfo=UTC)] * 3, rejected=rejected)
    assert list(frame["ad_id"]) == ["1", "3"]
    assert check_dagster_type(InsightsMetaAdsFrame, frame).success
    (bad,) = rejected
    assert (bad.index, bad.field, bad.key["ad_id"], bad.key["account_id"]) == (1, field, "2", "act_100000000000001")
    assert bad.key["data"] == rows[1]["date_start"] and bad.message().startswith("insight ad_id='2' date=")
    # The same rows without the list: the first bad one raises, named.
    with pytest.raises(ValueError, match=r"insight ad_id='2' date="):
        clean_insights(rows)


def test_a_clean_batch_is_never_examined_row_by_row(monkeypatch):
    from vetorial_assets.meta import cleaner

    monkeypatch.setattr(cleaner, "find_bad_rows", lambda rows: pytest.fail("careful path on clean rows"))
    assert len(clean_insights([insight(ad_id=str(i)) for i in range(50)], rejected=[])) == 50


def test_two_rows_with_the_same_hash_id_are_an_error_not_a_silent_dedup():
    rows = [insight(ad_id="1"), insight(ad_id="2"), insight(ad_id="1", spend="99")]
    with pytest.raises(ValueError, match=r"rows \[0, 2\] share hash_id .*ad_id='1'"):
        clean_insights(rows)
    with pytest.raises(ValueError, match=r"share hash_id"):
        clean_insights(rows, rejected=[])  # not a bad row: two rows claim one key


def test_same_ad_and_day_on_other_placements_are_distinct_rows():
    rows = [
        insight(publisher_platform=p, platform_position=q)
        for p, q in [("facebook", "feed"), ("instagram", "feed"), ("instagram", "instagram_stories")]
    ]
    assert clean_insights(rows)["hash_id"].nunique() == 3


# -- the dagster-pandas type ----------------------------------------------------------------


def good_frame() -> pd.DataFrame:
    return clean_insights(
        [insight(ad_id=str(i), actions=LEAD_CASES["every origin"][0], inline_link_clicks=str(i)) for i in range(4)],
        fetched_at=datetime(2024, 3, 6, tzinfo=UTC),
    )


def test_the_staging_type_accepts_what_the_cleaner_makes():
    assert check_dagster_type(InsightsMetaAdsFrame, good_frame()).success
    assert check_dagster_type(InsightsMetaAdsFrame, good_frame().drop(columns="fetched_at")).success
    assert check_dagster_type(InsightsMetaAdsFrame, clean_insights([])).success


def _set(column, index, value):
    def mutate(frame):
        frame.loc[index, column] = value
        return frame

    return mutate


# mutation -> the constraint that must catch it
BAD_FRAMES = {
    "duplicate hash_id": (lambda f: f.assign(hash_id=[f["hash_id"][0]] * len(f)), "UniqueColumnConstraint"),
    "null hash_id": (_set("hash_id", 1, None), "NonNullableColumnConstraint"),
    "hash_id not md5": (_set("hash_id", 1, "not-a-hash"), "Md5Hex"),
    "negative impressions": (_set("impressoes", 2, -1), "InRangeColumnConstraint"),
    "negative spend": (_set("valor_gasto", 2, -0.5), "InRangeColumnConstraint"),
    "null ad_id": (_set("ad_id", 0, None), "NonNullableColumnConstraint"),
    "ad_id not text": (_set("ad_id", 0, 120), "TextValues"),
    "leads do not add up": (_set("leads_total", 3, 1), "LeadsAddUp"),
    "ratio null with clicks": (_set("cpc", 1, float("nan")), "RatiosNullOnlyForZero"),
    "counts as floats": (lambda f: f.assign(cliques=f["cliques"].astype(float)), "ColumnDTypeFnConstraint"),
    "column missing": (lambda f: f.drop(columns="alcance"), "Required column alcance"),
    "extra column": (lambda f: f.assign(post_engagement=0), "ContractColumns"),
    "columns reordered": (lambda f: f[list(reversed(f.columns))], "ContractColumns"),
    "date as text": (lambda f: f.assign(data=f["data"].dt.strftime("%Y-%m-%d")), "ColumnDTypeInSetConstraint"),
}


@pytest.mark.parametrize(("mutate", "constraint"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_the_staging_type_rejects_a_broken_frame(mutate, constraint):
    result = check_dagster_type(InsightsMetaAdsFrame, mutate(good_frame()))
    assert not result.success
    assert constraint in result.description


def test_the_record_reader_fallback_gives_the_same_frame(monkeypatch):
    # pandas' private C reader is used when present; a future pandas may drop it.
    from vetorial_assets.meta import cleaner

    rows = [insight(ad_id=str(i), actions=LEAD_CASES["every origin"][0]) for i in range(3)]
    rows[1].pop("account_name")
    fast = clean_insights(rows)
    monkeypatch.setattr(cleaner, "_dicts_to_array", None)
    pd.testing.assert_frame_equal(clean_insights(rows), fast)
