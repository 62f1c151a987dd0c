"""Declarative automation of the warehouse layers, evaluated by Dagster's own evaluator
(`evaluate_automation_conditions`) on the real definitions: the sensor runs by default, and
a Meta materialization makes it request the Meta model and mart, not the Instagram ones."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, AutomationConditionSensorDefinition, DefaultSensorStatus, evaluate_automation_conditions

from tests.conftest import run_range
from vetorial_assets.sandbox.graph_data import sandbox_today

META_DOWNSTREAM = {
    "model/dim_ad_account",
    "model/dim_campaign",
    "model/dim_adset",
    "model/dim_ad",
    "model/dim_placement",
    "model/fact_ad_insights_daily",
    "mart/campaign_performance_daily",
}
IG_DOWNSTREAM = {"model/dim_ig_account", "model/fact_ig_follows_daily", "mart/instagram_growth_daily"}
ROOTS = {"model/dim_date", "model/dim_tenant"}


def _requested(result) -> set[str]:
    return {
        key.to_user_string()
        for key in {r.key for r in result.results}
        if isinstance(key, AssetKey) and result.get_num_requested(key)
    }


def test_the_automation_sensor_runs_by_default(make_defs):
    from vetorial_assets.definitions import AUTOMATION_SENSOR

    sensor = make_defs().resolve_sensor_def(AUTOMATION_SENSOR)
    assert isinstance(sensor, AutomationConditionSensorDefinition)
    assert sensor.default_status == DefaultSensorStatus.RUNNING


def test_a_meta_materialization_requests_the_meta_model_and_mart(make_defs, instance):
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    first = evaluate_automation_conditions(defs=defs, instance=instance)
    # A new deployment builds its generated dims at once (and, in the same tick, what follows them).
    assert ROOTS <= _requested(first)
    assert defs.resolve_job_def("meta_warehouse_layers").execute_in_process(instance=instance).success
    quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert not _requested(quiet) & (META_DOWNSTREAM | IG_DOWNSTREAM | ROOTS)

    today = sandbox_today()
    assert run_range(
        defs, JOB_NAME, "account", "act_100000000000001", today - timedelta(days=3), today - timedelta(days=1), instance
    ).success
    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    requested = _requested(after)
    assert META_DOWNSTREAM <= requested  # the star and, in the same tick, the mart on top of it
    assert not requested & IG_DOWNSTREAM

    # Once they ran, the next tick asks for nothing more of them.
    assert defs.resolve_job_def("meta_warehouse_layers").execute_in_process(instance=instance).success
    settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert not _requested(settled) & (META_DOWNSTREAM | ROOTS)


def test_a_failed_blocking_check_upstream_holds_the_mart_back(make_defs, instance, vetorial_env):
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    layers = defs.resolve_job_def("meta_warehouse_layers")
    today = sandbox_today()
    assert run_range(
        defs, JOB_NAME, "account", "act_100000000000001", today - timedelta(days=2), today - timedelta(days=1), instance
    ).success
    assert layers.execute_in_process(instance=instance).success
    cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor
    # The fact drifts from staging (an operator's bad manual fix): the star's blocking check
    # fails on its next run, and the mart, though its upstream changed, is not requested.
    with vetorial_env.connect() as conn:
        conn.execute(
            "UPDATE model.fact_ad_insights_daily SET spend = spend + 1 WHERE ctid IN "
            "(SELECT ctid FROM model.fact_ad_insights_daily LIMIT 1)"
        )
    star = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[
            AssetKey(["model", name])
            for name in (
                "dim_ad_account",
                "dim_campaign",
                "dim_adset",
                "dim_ad",
                "dim_placement",
                "fact_ad_insights_daily",
            )
        ],
        raise_on_error=False,
    )
    checks = {e.check_name: e.passed for e in star.get_asset_check_evaluations()}
    assert checks == {"reconciles_with_upstream": False, "keys_resolve_to_dims": True}
    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert "mart/campaign_performance_daily" not in _requested(after)
    # Held back by the failed check alone: eager wants it (the fact was updated).
    mart = next(r for r in after.results if r.key == AssetKey(["mart", "campaign_performance_daily"]))
    eager, no_failed_check = mart.child_results
    assert (eager.true_subset.size, no_failed_check.true_subset.size) == (1, 0)
