"""The conversation layers as Dagster assets, end to end on the sandbox Chatwoot source:
eager automation requests them after a raw sync; each materialization reports its table,
columns, row count and units (marts: a Markdown preview); no name, phone or e-mail of raw
reaches staging, model or mart; conversation counts reconcile across the layers."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AssetSelection, evaluate_automation_conditions

from vetorial_assets.chatwoot.schedules import JOB_NAME as CHATWOOT_JOB
from vetorial_assets.demo import lead_funnel_lines

STAGING = AssetKey(["staging", "conversations"])
MODEL = [AssetKey(["model", n]) for n in ("dim_inbox", "dim_contact", "fact_conversations")]
MARTS = [
    AssetKey(["mart", n]) for n in ("conversation_service_daily", "conversation_growth_monthly", "lead_funnel_daily")
]
TENANTS = ("allpfit", "lacrei")


def _sync_raw(defs, instance):
    for tenant in TENANTS:
        assert defs.resolve_job_def(CHATWOOT_JOB).execute_in_process(instance=instance, partition_key=tenant).success


@pytest.fixture
def defs(make_defs, vetorial_env, chatwoot_source, monkeypatch):
    monkeypatch.setenv("VETORIAL_LGPD_SALT", "assets-test-salt")
    return make_defs()


@pytest.fixture
def layered(defs, instance):
    _sync_raw(defs, instance)
    return defs


def _materialize(defs, instance, keys, partition_key=None):
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=keys, partition_key=partition_key)
    assert result.success
    return result


def _latest_metadata(instance, key, partition=None):
    event = instance.get_latest_materialization_event(key) if partition is None else None
    if partition is not None:
        from dagster import AssetRecordsFilter

        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        event = records[0].event_log_entry
    return event.asset_materialization.metadata


def _q(db, statement, params=None):
    with db.connect() as conn:
        return conn.execute(statement, params).fetchall()


def _requested(result) -> set[AssetKey]:
    return {r.key for r in result.results if isinstance(r.key, AssetKey) and result.get_num_requested(r.key)}


def test_a_raw_sync_makes_automation_request_the_conversation_layers(defs, instance):
    selection = AssetSelection.assets(STAGING, *MODEL, *MARTS)
    first = evaluate_automation_conditions(defs, instance, asset_selection=selection)
    assert not _requested(first)  # nothing upstream yet
    _sync_raw(defs, instance)
    after_raw = evaluate_automation_conditions(defs, instance, asset_selection=selection, cursor=first.cursor)
    assert after_raw.get_requested_partitions(STAGING) == set(TENANTS)
    assert not _requested(after_raw) & set(MODEL)  # not before staging
    for tenant in TENANTS:
        _materialize(defs, instance, [STAGING], tenant)
    after_staging = evaluate_automation_conditions(defs, instance, asset_selection=selection, cursor=after_raw.cursor)
    assert set(MODEL) <= _requested(after_staging) and STAGING not in _requested(after_staging)


def test_layers_report_metadata_reconcile_and_carry_no_pii(layered, instance, vetorial_env):
    for tenant in TENANTS:
        _materialize(layered, instance, [STAGING], tenant)
    model_run = _materialize(layered, instance, MODEL)
    mart_run = _materialize(layered, instance, MARTS)

    meta = _latest_metadata(instance, STAGING, "allpfit")
    assert meta["dagster/table_name"].value == "staging.conversations"
    assert (
        meta["dagster/row_count"].value
        == _q(vetorial_env, "SELECT count(*) FROM staging.conversations WHERE tenant_id = 'allpfit'")[0][0]
        > 0
    )
    assert meta["units_processed"].value == 1 and meta["full_build"].value is True
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"contact_key", "is_deleted"}
    for key in MARTS:
        meta = _latest_metadata(instance, key)
        assert meta["dagster/row_count"].value > 0
        assert meta["preview"].value.startswith("| tenant_id |")
    # The blocking checks ran with their assets and passed.
    evaluations = [*model_run.get_asset_check_evaluations(), *mart_run.get_asset_check_evaluations()]
    assert {(e.asset_key, e.check_name) for e in evaluations} >= {
        (MODEL[2], "keys_resolve_to_dims"),
        (MODEL[2], "reconciles_with_upstream"),
        (MARTS[2], "reconciles_with_upstream"),
    }
    # With the standard checks of every layer table (asset_checks/layers.py), no PII among them.
    assert {(key, "no_pii") for key in [*MODEL, *MARTS]} <= {(e.asset_key, e.check_name) for e in evaluations}
    assert all(e.passed for e in evaluations), [(e.asset_key, e.check_name) for e in evaluations if not e.passed]

    # What `vetorial demo` prints at its end: the last 7 days' funnel per tenant.
    lines = lead_funnel_lines(layered)
    assert lines[0] == "allpfit:" and "conversations" in lines[1] and "lacrei:" in lines
    assert len(lines) > 4

    # Reconciliation: raw live rows = staging = fact = mart, per tenant.
    for tenant in TENANTS:
        counts = [
            _q(vetorial_env, s, (tenant,))[0][0]
            for s in (
                "SELECT count(*) FROM raw.conversas_analytics WHERE tenant_id = %s AND deleted_at IS NULL",
                "SELECT count(*) FROM staging.conversations WHERE tenant_id = %s AND NOT is_deleted",
                "SELECT count(*) FROM model.fact_conversations WHERE tenant_id = %s AND NOT is_deleted",
                "SELECT sum(conversations) FROM mart.conversation_service_daily WHERE tenant_id = %s",
                "SELECT sum(conversations) FROM mart.conversation_growth_monthly WHERE tenant_id = %s",
            )
        ]
        assert len(set(counts)) == 1 and counts[0] > 0, (tenant, counts)

    # PII scan: every text-like column of staging, model and mart against raw's names,
    # phones (as stored and as digits) and e-mails.
    pii = set()
    for name, phone, email in _q(
        vetorial_env, "SELECT contact_name, contact_phone, contact_email FROM raw.conversas_analytics"
    ):
        pii |= {v.strip().lower() for v in (name, phone, email) if v and len(v.strip()) >= 5}
        if phone and sum(ch.isdigit() for ch in phone) >= 8:
            pii.add("".join(ch for ch in phone if ch.isdigit()))
    assert len(pii) > 20
    columns = _q(
        vetorial_env,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE table_schema IN ('staging', 'model', 'mart')"
        " AND data_type IN ('text', 'ARRAY', 'jsonb', 'character varying')",
    )
    hits = []
    for schema, table, column in columns:
        values = _q(vetorial_env, f'SELECT DISTINCT lower(CAST("{column}" AS text)) FROM "{schema}"."{table}"')  # noqa: S608
        hits += [(table, column, v) for (v,) in values if v and any(p in v for p in pii)]
    assert hits == []


def test_without_the_salt_a_real_warehouse_run_fails_naming_it_and_writes_nothing(
    make_defs, instance, vetorial_env, chatwoot_source, monkeypatch
):
    monkeypatch.delenv("VETORIAL_LGPD_SALT", raising=False)
    defs = make_defs()
    _sync_raw(defs, instance)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[STAGING], partition_key="allpfit", raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    while error.cause is not None and error.cls_name != "ConfigError":
        error = error.cause
    assert error.cls_name == "ConfigError" and "VETORIAL_LGPD_SALT is not set" in error.message
    assert _q(
        vetorial_env,
        "SELECT to_regclass('staging.conversations') IS NULL OR NOT EXISTS (SELECT 1 FROM staging.conversations)",
    )[0][0]
