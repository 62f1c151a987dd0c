"""Bad input end to end through Dagster (issue 11, build 5): the sandbox Graph API answers a
re-pull of a loaded range with hostile rows (the real SDK over HTTP, the real warehouse).
Every good row lands as the rules say, each bad one is recorded naming its record and
field, and the rest of the partition is untouched. The Chatwoot case is in
tests/test_bad_input_chatwoot.py."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import run_range
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000001"
IG = "17841400000000001"
HOSTILE_NAME = "Promoção 😀 עברית ومرحبا '; DROP TABLE staging.insights_meta_ads; --"


def _staging(db) -> dict[tuple, tuple]:
    with db.connect() as conn:
        return {
            r[:4]: r[4:]
            for r in conn.execute(
                "SELECT ad_id, data, plataforma, posicionamento, ad_name, valor_gasto, impressoes, cliques, leads_total"
                " FROM staging.insights_meta_ads WHERE account_id = %s",
                (ACCOUNT,),
            )
        }


def _raw(db) -> dict[tuple, str]:
    with db.connect() as conn:
        return {
            r[:4]: r[4]
            for r in conn.execute(
                "SELECT ad_id, data, publisher_platform, platform_position, content_hash FROM raw.meta_ads_insights"
                " WHERE account_id = %s",
                (ACCOUNT,),
            )
        }


def test_meta_a_hostile_repull_lands_the_good_rows_and_names_the_bad_ones(make_defs, instance, vetorial_env, graph_api):
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=4), today - timedelta(days=1)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    staging_before, raw_before = _staging(vetorial_env), _raw(vetorial_env)
    day = first + timedelta(days=1)
    changed: dict[str, tuple] = {}

    def hostile(rows: list[dict]) -> list:
        key = lambda r: (r["ad_id"], day, r["publisher_platform"], r["platform_position"])  # noqa: E731
        a, b, c, d, e = rows[:5]
        changed.update(named=key(a), huge=key(b), outside=key(c), repeated=key(d), unknown=key(e))
        a.update(impressions="1,234", ad_name=HOSTILE_NAME, extra_field={"x": [1, 2]})  # 0 by rule; name as sent
        b["spend"] = "1e30"  # past what the cleaner holds exactly: staging leaves the row out
        c["date_start"] = c["date_stop"] = "1999-01-01"  # outside the partition: raw leaves it out
        d["actions"] = [{"action_type": "lead", "value": "1"}, {"action_type": "lead", "value": "2"}]
        e["actions"] = [
            *(e.get("actions") or []),
            {"action_type": "video_view", "value": "9"},
            {"action_type": "video_view", "value": "NaN"},
        ]  # unknown, repeated: ignored
        return rows

    graph_api.tamper(ACCOUNT, day, hostile)
    result = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance)
    assert result.success

    staging, raw = _staging(vetorial_env), _raw(vetorial_env)
    # Raw: every row but the one Meta sent for another date; the others of the range as before.
    assert set(raw) == set(raw_before) - {changed["outside"]}
    assert {k: v for k, v in raw.items() if k[1] != day} == {k: v for k, v in raw_before.items() if k[1] != day}
    # Staging: raw's rows but the two the cleaner cannot take; everything else exactly as before.
    assert set(staging) == set(raw) - {changed["huge"], changed["repeated"]}
    untouched = set(staging) - {changed["named"], changed["unknown"]}
    assert {k: staging[k] for k in untouched} == {k: staging_before[k] for k in untouched}
    assert staging[changed["named"]][0] == HOSTILE_NAME and staging[changed["named"]][2] == 0
    assert staging[changed["unknown"]] == staging_before[changed["unknown"]]

    with vetorial_env.connect() as conn:
        rejected = conn.execute(
            "SELECT table_name, row_key->>'ad_id', row_key->>'data', column_name, action, reason"
            " FROM ops.rejected_values WHERE run_id = %s ORDER BY 1, 4",
            (result.run_id,),
        ).fetchall()
    assert [(t, ad, d, col, act) for t, ad, d, col, act, _ in rejected] == [
        ("raw.meta_ads_insights", changed["outside"][0], "1999-01-01", "date_start", "row_skipped"),
        ("staging.insights_meta_ads", changed["repeated"][0], str(day), "actions", "row_skipped"),
        ("staging.insights_meta_ads", changed["huge"][0], str(day), "spend", "row_skipped"),
    ]
    reasons = [r[5] for r in rejected]
    assert "outside the requested" in reasons[0] and "'lead' appears more than once" in reasons[1]
    assert "spend 1e+30 is larger than the cleaner holds exactly" in reasons[2]


def test_instagram_hostile_days_are_left_out_naming_them_and_the_rest_lands(
    make_defs, instance, vetorial_env, graph_api
):
    from vetorial_assets.instagram.schedules import JOB_NAME

    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=8), today - timedelta(days=3)
    assert run_range(defs, JOB_NAME, "account", IG, first, last, instance).success
    with vetorial_env.connect() as conn:
        before = dict(
            conn.execute(
                "SELECT data_registro, (follows, unfollows, net) FROM raw.ig_follows WHERE ig_account_id = %s", (IG,)
            ).fetchall()
        )
    assert len(before) == 6

    def count(value):
        def change(answer):
            answer["data"][0]["total_value"]["breakdowns"][0]["results"][0]["value"] = value
            return answer

        return change

    def kind(answer):
        answer["data"][0]["total_value"]["breakdowns"][0]["results"][0]["dimension_values"] = [["FOLLOWER"]]
        return answer

    hostile = {
        first: count("1,234"),
        first + timedelta(days=1): count(2**70),
        first + timedelta(days=2): kind,
        first + timedelta(days=3): count("١٢"),
    }
    for day, change in hostile.items():
        graph_api.tamper_ig(IG, day, change)
    result = run_range(defs, JOB_NAME, "account", IG, first, last, instance)
    assert result.success
    with vetorial_env.connect() as conn:
        after = dict(
            conn.execute(
                "SELECT data_registro, (follows, unfollows, net) FROM raw.ig_follows WHERE ig_account_id = %s", (IG,)
            ).fetchall()
        )
        rejected = conn.execute(
            "SELECT row_key->>'data_registro', column_name, action, reason FROM ops.rejected_values"
            " WHERE run_id = %s ORDER BY 1",
            (result.run_id,),
        ).fetchall()
    assert after == before  # the hostile days keep what was loaded before; the others land as before
    assert [(d, col, act) for d, col, act, _ in rejected] == [(str(d), "payload", "row_skipped") for d in hostile]
    reasons = [r[3] for r in rejected]
    assert "follow_type FOLLOWER is not a count: '1,234'" in reasons[0]
    assert "more than a count can be" in reasons[1]
    assert "unknown follow_type ['FOLLOWER']" in reasons[2]
    assert "follow_type FOLLOWER is not a count: '١٢'" in reasons[3]


def test_meta_a_page_without_its_data_list_fails_the_range_and_deletes_nothing(
    make_defs, instance, vetorial_env, graph_api, monkeypatch
):
    # Regression: a page answered without `data` (or with `"data": null`) read as "no rows";
    # restating the range then deleted every row loaded for it.
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=3), today - timedelta(days=1)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    raw_before, staging_before = _raw(vetorial_env), _staging(vetorial_env)
    for page in ({"paging": {"cursors": {"after": "x"}}}, {"data": None}, {"data": {"0": {"ad_id": "1"}}}):
        monkeypatch.setattr(graph_api, "_insights_page", lambda *args, _page=page, **kwargs: dict(_page))
        result = run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.event_specific_data.error.to_string()  # with its cause
        assert "Graph answered a page whose 'data' is" in message and "not a list of rows" in message, message
        assert _raw(vetorial_env) == raw_before and _staging(vetorial_env) == staging_before
