"""raw/conversas_analytics: watermark sync per tenant against a real Chatwoot-shaped PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from dagster import AssetKey, DagsterInstance, SkipReason, build_sensor_context

from vetorial_assets.chatwoot import assets as chatwoot_assets
from vetorial_assets.chatwoot.schedules import JOB_NAME
from vetorial_assets.chatwoot.transform import SOURCE_COLUMNS

KEY = AssetKey(["raw", "conversas_analytics"])
OP = "raw__conversas_analytics"
TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)


def sync(defs, instance, raise_on_error=True, **config):
    run_config = {"ops": {OP: {"config": config}}} if config else None
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, partition_key=TENANT, run_config=run_config, raise_on_error=raise_on_error
    )


def warehouse_rows(db):
    with db.connect() as conn:
        return conn.execute(
            "SELECT conversation_id, inbox_id, status, labels, message_count, conversation_updated_at, deleted_at"
            " FROM raw.conversas_analytics WHERE tenant_id = %s ORDER BY conversation_id",
            (TENANT,),
        ).fetchall()


def source_rows(source):
    with source.connect() as conn:
        return conn.execute(
            "SELECT conversation_id, inbox_id, status, labels, message_count, conversation_updated_at, NULL"
            " FROM vw_conversations_analytics_final WHERE account_id = %s AND inbox_id = ANY(%s)"
            " ORDER BY conversation_id",
            (ACCOUNT, list(INBOXES)),
        ).fetchall()


def control_rows(db):
    with db.connect() as conn:
        return conn.execute(
            "SELECT status, load_type, rows_extracted, rows_inserted, rows_updated, rows_unchanged, rows_deleted,"
            " watermark_end, error_message, triggered_by FROM ops.etl_control WHERE tenant_id = %s ORDER BY id",
            (TENANT,),
        ).fetchall()


def test_full_load_equals_the_source_view(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    assert warehouse_rows(vetorial_env) == source_rows(chatwoot_source)
    ((status, load_type, extracted, inserted, *_rest, watermark, error, trigger),) = control_rows(vetorial_env)
    assert (status, load_type, error, trigger) == ("success", "full", None, "manual")
    assert extracted == inserted == len(source_rows(chatwoot_source))
    assert watermark == max(r[5] for r in source_rows(chatwoot_source))
    with vetorial_env.connect() as conn:
        stats = conn.execute("SELECT status, rows_inserted FROM ops.vw_etl_stats").fetchall()
        # PII stays in raw (the landing layer), and local dates come from the IANA zone.
        local_dates = conn.execute(
            "SELECT count(*) FROM raw.conversas_analytics WHERE conversation_date <>"
            " (conversation_created_at AT TIME ZONE 'America/Sao_Paulo')::date"
        ).fetchone()[0]
    assert stats == [("success", inserted)]
    assert local_dates == 0
    meta = instance.get_latest_materialization_event(KEY).asset_materialization.metadata
    assert meta["dagster/row_count"].value == inserted


def test_incremental_run_counts_touched_and_new(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    ids = chatwoot_source.conversation_ids(ACCOUNT, INBOXES)
    later = chatwoot_source.now() + timedelta(hours=1)
    chatwoot_source.touch(ids[:5], at=later)
    new = chatwoot_source.add(ACCOUNT, 14, 5, at=later)
    assert sync(defs, instance).success
    last = control_rows(vetorial_env)[-1]
    assert last[:2] == ("success", "incremental")
    assert (last[3], last[4]) == (5, 5)  # inserted, updated (overlap re-reads count as unchanged)
    assert warehouse_rows(vetorial_env) == source_rows(chatwoot_source)
    assert set(new) <= {r[0] for r in warehouse_rows(vetorial_env)}


def test_row_count_metadata_follows_every_run(make_defs, instance, vetorial_env, chatwoot_source):
    def reported(inst):
        return inst.get_latest_materialization_event(KEY).asset_materialization.metadata["dagster/row_count"].value

    defs = make_defs()
    assert sync(defs, instance).success
    later = chatwoot_source.now() + timedelta(hours=1)
    chatwoot_source.touch(chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:5], at=later)
    chatwoot_source.add(ACCOUNT, 14, 5, at=later)
    assert sync(defs, instance).success  # the last run's count plus this run's inserts
    assert reported(instance) == len(warehouse_rows(vetorial_env)) == 85
    chatwoot_source.delete(chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:3])
    assert sync(defs, instance, reconcile=True).success  # counted; deleted rows are kept, marked
    assert reported(instance) == len(warehouse_rows(vetorial_env)) == 85
    chatwoot_source.add(ACCOUNT, 15, 2, at=later + timedelta(minutes=1))
    with DagsterInstance.ephemeral() as other:  # chained from ops.etl_control, not from Dagster's records
        assert sync(defs, other).success
        assert reported(other) == len(warehouse_rows(vetorial_env)) == 87
    # A last success that recorded no count (written before ops.etl_control had rows_total): counted.
    with vetorial_env.connect() as conn:
        conn.execute("UPDATE ops.etl_control SET rows_total = NULL")
    chatwoot_source.add(ACCOUNT, 14, 1, at=later + timedelta(minutes=2))
    assert sync(defs, instance).success
    assert reported(instance) == len(warehouse_rows(vetorial_env)) == 88
    with vetorial_env.connect() as conn:
        recorded = conn.execute(
            "SELECT rows_total FROM ops.etl_control WHERE status = 'success' ORDER BY completed_at DESC LIMIT 1"
        ).fetchone()[0]
    assert recorded == 88


def test_no_new_data_changes_nothing(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    watermark = control_rows(vetorial_env)[-1][7]
    assert sync(defs, instance).success
    last = control_rows(vetorial_env)[-1]
    assert (last[3], last[4], last[6]) == (0, 0, 0)
    assert last[7] == watermark


def test_ties_at_the_watermark_and_lagging_updated_at_are_not_lost(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    watermark = control_rows(vetorial_env)[-1][7]
    # A row committed late with exactly the watermark's timestamp (a tie).
    tie = chatwoot_source.add(ACCOUNT, 15, 1, at=watermark)
    # A conversation that got a message without its updated_at moving (Chatwoot does that).
    lagging = chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[0]
    chatwoot_source.add_messages([lagging], at=chatwoot_source.now())
    assert sync(defs, instance).success
    assert tie[0] in {r[0] for r in warehouse_rows(vetorial_env)}
    # The daily reconciliation re-reads everything and catches the lagging row.
    assert sync(defs, instance, reconcile=True).success
    assert warehouse_rows(vetorial_env) == source_rows(chatwoot_source)


def test_deleted_conversations_are_marked(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    assert sync(defs, instance).success
    gone = chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:3]
    chatwoot_source.delete(gone)
    assert sync(defs, instance, reconcile=True).success
    rows = {r[0]: r[6] for r in warehouse_rows(vetorial_env)}
    assert all(rows[i] is not None for i in gone)
    assert sum(v is not None for v in rows.values()) == 3
    assert control_rows(vetorial_env)[-1][6] == 3


def test_missing_source_column_fails_clearly_and_writes_nothing(
    make_defs, instance, vetorial_env, chatwoot_source, monkeypatch
):
    defs = make_defs()
    assert sync(defs, instance).success
    before = warehouse_rows(vetorial_env)
    watermark = control_rows(vetorial_env)[-1][7]
    cols = [c for c in SOURCE_COLUMNS if c not in ("is_lead", "crm_converted")]
    with chatwoot_source.connect() as conn:
        conn.execute(f"CREATE VIEW vw_missing AS SELECT {', '.join(cols)} FROM vw_conversations_analytics_final")
        conn.commit()
    chatwoot_source.touch(chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:2], at=chatwoot_source.now())
    monkeypatch.setenv("VETORIAL_CHATWOOT_RELATION", "vw_missing")
    result = sync(make_defs(), instance, raise_on_error=False)
    assert not result.success
    failed = control_rows(vetorial_env)[-1]
    assert failed[0] == "failed" and "is_lead" in failed[8] and "crm_converted" in failed[8]
    assert warehouse_rows(vetorial_env) == before
    assert max(r[7] for r in control_rows(vetorial_env) if r[0] == "success") == watermark


def test_failure_after_the_first_chunk_keeps_previous_state(
    make_defs, instance, vetorial_env, chatwoot_source, monkeypatch
):
    defs = make_defs()
    assert sync(defs, instance).success
    before = warehouse_rows(vetorial_env)
    chatwoot_source.touch(chatwoot_source.conversation_ids(ACCOUNT, INBOXES), at=chatwoot_source.now())
    real = chatwoot_assets.to_raw_frame
    calls = []

    def second_chunk_fails(rows, columns, tenant_id, **kwargs):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("connection to the source dropped")
        return real(rows, columns, tenant_id, **kwargs)

    monkeypatch.setattr(chatwoot_assets, "to_raw_frame", second_chunk_fails)
    result = sync(defs, instance, raise_on_error=False, chunk_rows=20)
    assert not result.success and len(calls) == 2
    assert warehouse_rows(vetorial_env) == before
    failed = control_rows(vetorial_env)[-1]
    assert failed[0] == "failed" and "source dropped" in failed[8]


def test_two_concurrent_runs_of_one_tenant_do_not_double_load(make_defs, vetorial_env, chatwoot_source):
    defs = make_defs()
    results = []

    def run():
        with DagsterInstance.ephemeral() as inst:
            results.append(sync(defs, inst, raise_on_error=False))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r.success for r in results)
    assert warehouse_rows(vetorial_env) == source_rows(chatwoot_source)
    runs = control_rows(vetorial_env)
    assert sorted(r[3] for r in runs) == [0, len(source_rows(chatwoot_source))]


def test_sensor_requests_a_run_only_when_the_source_moved(make_defs, instance, vetorial_env, chatwoot_source):
    defs = make_defs()
    sensor = defs.resolve_sensor_def("chatwoot_source_sensor")
    resources = {"source_db": defs.resources["source_db"], "warehouse": defs.resources["warehouse"]}

    def evaluate(cursor=None):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
            result = sensor(ctx)
            return result, ctx.cursor

    requests, cursor = evaluate()
    assert [r.partition_key for r in requests] == ["allpfit", "lacrei"]
    assert sync(defs, instance).success
    again, cursor = evaluate(cursor)
    assert not [r for r in (again if isinstance(again, list) else []) if r.partition_key == TENANT]
    chatwoot_source.touch(
        chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:1], at=chatwoot_source.now() + timedelta(minutes=5)
    )
    moved, cursor = evaluate(cursor)
    assert [r.partition_key for r in moved if r.partition_key == TENANT] == [TENANT]
    # The same movement is not requested twice.
    repeat, _ = evaluate(cursor)
    assert not [r for r in (repeat if isinstance(repeat, list) else []) if r.partition_key == TENANT]
    assert isinstance(repeat, SkipReason) or all(r.partition_key != TENANT for r in repeat)


@pytest.mark.parametrize("tenant", ["allpfit", "lacrei"])
def test_every_chatwoot_tenant_is_a_partition(make_defs, tenant):
    assert tenant in make_defs().resolve_job_def(JOB_NAME).partitions_def.get_partition_keys()
