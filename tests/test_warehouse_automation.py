"""Declarative automation of the warehouse layers, evaluated by Dagster's own evaluator
(`evaluate_automation_conditions`) on the real definitions: the sensor runs by default, and
a Meta materialization makes it request the Meta model and mart, not the Instagram ones."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, AutomationConditionSensorDefinition, DefaultSensorStatus, evaluate_automation_conditions

from tests.conftest import run_range
from vetorial_assets.sandbox.graph_data import sandbox_today

META_DOWNSTREAM = {"model/dim_ad_account", "model/dim_campaign", "model/dim_adset", "model/dim_ad",
                   "model/dim_placement", "model/fact_ad_insights_daily", "mart/campaign_performance_daily"}
IG_DOWNSTREAM = {"model/dim_ig_account", "model/fact_ig_follows_daily", "mart/instagram_growth_daily"}
ROOTS = {"model/dim_date", "model/dim_tenant"}


def _requested(result) -> set[str]:
    return {key.to_user_string() for key in {r.key for r in result.results}
            if isinstance(key, AssetKey) and result.get_num_requested(key)}


def test_the_automation_sensor_runs_by_default(make_defs):
    from vetorial_assets.definitions import AUTOMATION_SENSOR

    sensor = make_defs().resolve_sensor_def(AUTOMATION_SENSOR)
    assert isinstance(sensor, AutomationConditionSensorDefinition)
    assert sensor.default_status == DefaultSensorStatus.RUNNING


def test_a_meta_materialization_requests_the_meta_model_and_mart(make_defs, instance):
    from vetorial_assets.meta.schedules import JOB_NAME

    defs = make_defs()
    first = evaluate_automation_conditions(defs=defs, instance=instance)
    # A new deployment builds its generated dims at once (and what follows them); the Meta
    # star waits for staging's blocking check, which has never passed yet.
    assert ROOTS <= _requested(first) and not _requested(first) & META_DOWNSTREAM
    assert defs.resolve_job_def("meta_warehouse_layers").execute_in_process(instance=instance).success
    quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert not _requested(quiet) & (META_DOWNSTREAM | IG_DOWNSTREAM | ROOTS)

    today = sandbox_today()
    assert run_range(defs, JOB_NAME, "account", "act_100000000000001", today - timedelta(days=3),
                     today - timedelta(days=1), instance).success
    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    requested = _requested(after)
    assert META_DOWNSTREAM <= requested  # the star and, in the same tick, the mart on top of it
    assert not requested & IG_DOWNSTREAM

    # Once they ran, the next tick asks for nothing more of them.
    assert defs.resolve_job_def("meta_warehouse_layers").execute_in_process(instance=instance).success
    settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert not _requested(settled) & (META_DOWNSTREAM | ROOTS)
