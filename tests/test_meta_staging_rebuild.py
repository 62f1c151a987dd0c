"""Staging-only rebuild of staging.insights_meta_ads from raw (no API call): after a rule
change, history follows, the change ledger marks exactly the days whose rows changed, and
the model and marts recompute those days. Also raw/meta_ad_accounts (the sandbox answers)."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey

from tests.conftest import run_range
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000001"
# The clicks rule of business-rules §1.3, written out in SQL against the raw payload.
RULE_CLICKS = """
    SELECT s.hash_id, s.cliques,
           GREATEST(coalesce((r.payload->>'inline_link_clicks')::numeric, 0),
                    coalesce((SELECT (a->>'value')::numeric FROM jsonb_array_elements(r.payload->'actions') a
                              WHERE a->>'action_type' = 'link_click'), 0)) AS expected
    FROM staging.insights_meta_ads s
    JOIN raw.meta_ads_insights r ON r.account_id = s.account_id AND r.data = s.data AND r.ad_id = s.ad_id
     AND r.publisher_platform = s.plataforma AND r.platform_position = s.posicionamento
"""


def test_rebuilding_staging_from_raw_makes_history_follow_the_rule(make_defs, instance, vetorial_env, graph_api):
    from vetorial_assets.meta.rebuild import execute_rebuild, plan_rebuild
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    today = sandbox_today()
    first, last = today - timedelta(days=5), today - timedelta(days=1)
    assert run_range(defs, JOB_NAME, "account", ACCOUNT, first, last, instance).success
    layers = defs.resolve_job_def("meta_warehouse_layers")
    # History cleaned by an older rule on two days (the seed summed the two click counts).
    old_days = [first + timedelta(days=1), first + timedelta(days=3)]
    with vetorial_env.connect() as conn:
        conn.execute("UPDATE staging.insights_meta_ads SET cliques = cliques * 2 + 1 WHERE data = ANY(%s)", (old_days,))
        conn.commit()
    assert layers.execute_in_process(instance=instance).success
    with vetorial_env.connect() as conn:
        ledger_before = conn.execute("SELECT coalesce(max(id), 0) FROM ops.changed_days").fetchone()[0]
        assert any(c != e for _, c, e in conn.execute(RULE_CLICKS))
    requests_before = len(graph_api.requests)

    runs = plan_rebuild(defs, [ACCOUNT])
    assert [(r.account, r.first, r.last) for r in runs] == [(ACCOUNT, first, last)]
    assert all(execute_rebuild(defs, instance, run).success for run in runs)

    assert len(graph_api.requests) == requests_before  # no API call
    with vetorial_env.connect() as conn:
        assert all(c == e for _, c, e in conn.execute(RULE_CLICKS))
        marked = conn.execute(
            "SELECT DISTINCT scope, day FROM ops.changed_days WHERE id > %s "
            "AND table_name = 'staging.insights_meta_ads' ORDER BY day",
            (ledger_before,),
        ).fetchall()
    assert marked == [(ACCOUNT, day) for day in old_days]  # exactly the days whose rows changed

    result = layers.execute_in_process(instance=instance)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert (
        checks.items()
        >= {
            ("model/fact_ad_insights_daily", "reconciles_with_upstream"): True,
            ("model/fact_ad_insights_daily", "keys_resolve_to_dims"): True,
            ("model/fact_ig_follows_daily", "keys_resolve_to_dims"): True,
            ("mart/campaign_performance_daily", "reconciles_with_upstream"): True,
        }.items()
    )
    # The layer tables' standard checks too: all pass but the Instagram tables' row count (this
    # test loads no Instagram data, and an empty table where data must exist is what it reports).
    failed = {k for k, passed in checks.items() if not passed}
    assert failed == {("model/fact_ig_follows_daily", "row_count"), ("mart/instagram_growth_daily", "row_count")}
    preview = (
        instance.get_latest_materialization_event(AssetKey(["mart", "campaign_performance_daily"]))
        .asset_materialization.metadata["preview"]
        .value
    )
    assert preview.startswith("| date | tenant_id |") and f"| {last} | allpfit | {ACCOUNT} |" in preview
    with vetorial_env.connect() as conn:
        per_day = conn.execute("""
            SELECT s.data, s.clicks, f.clicks, m.clicks FROM
              (SELECT data, sum(cliques) AS clicks FROM staging.insights_meta_ads GROUP BY data) s
              JOIN (SELECT date, sum(clicks) AS clicks FROM model.fact_ad_insights_daily GROUP BY date) f
                ON f.date = s.data
              JOIN (SELECT date, sum(clicks) AS clicks FROM mart.campaign_performance_daily GROUP BY date) m
                ON m.date = s.data""").fetchall()
    assert len(per_day) == 5 and all(s == f == m for _, s, f, m in per_day)


def test_the_rebuild_command_is_in_the_cli():
    from vetorial_assets.cli import build_parser

    args = build_parser().parse_args(["rebuild-meta-staging", "--account", ACCOUNT, "--since", "2026-01-01"])
    assert args.account == [ACCOUNT] and args.since == "2026-01-01" and args.until is None


def test_meta_ad_accounts_lands_each_configured_account(make_defs, instance, vetorial_env, graph_api):
    from vetorial_assets.meta.accounts import JOB_NAME

    defs = make_defs()
    assert defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance).success
    with vetorial_env.connect() as conn:
        rows = conn.execute(
            "SELECT account_id, account_name, currency, timezone_name, account_status, "
            "payload->>'id' FROM raw.meta_ad_accounts ORDER BY 1"
        ).fetchall()
    assert rows == [
        (f"act_10000000000000{i}", f"Sandbox Ads 00{i}", "BRL", "America/Sao_Paulo", 1, f"act_10000000000000{i}")
        for i in (1, 2, 3)
    ]
    paths = [r.path for r in graph_api.requests]
    assert sorted(paths) == [f"act_10000000000000{i}" for i in (1, 2, 3)]  # one request per account
    # Daily refresh, running by default like the other schedules.
    from dagster import DefaultScheduleStatus

    schedule = defs.resolve_schedule_def("meta_ad_accounts_daily")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING and schedule.cron_schedule == "30 5 * * *"
