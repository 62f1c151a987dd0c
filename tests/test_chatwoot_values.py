"""Chatwoot source values the warehouse could not hold (issue 10, issue 11 defects 1 and 8),
against a second real PostgreSQL server playing the Chatwoot source (TCP on 127.0.0.1, a
password-authenticated role, as a deployment's source would be): its view is replaced
by one whose types differ from the sandbox's: the AI score on a 0-100 scale, message_count a
numeric with 3,000,000,000 (and values no bigint holds), a 5,000-character contact name, a
text assignee_id, a NULL conversation_id. Every good row and value lands, each bad one is in
ops.rejected_values, nothing is wrapped, and the WARN check reports them."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey
from psycopg import sql

from asset_checks.rejected_values import REJECTED_VALUES
from tests.conftest import REPO
from tests.second_server import second_server
from vetorial_assets.chatwoot import source_types
from vetorial_assets.chatwoot.schedules import JOB_NAME
from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME

KEY = AssetKey(["raw", "conversas_analytics"])


@pytest.fixture(scope="module")
def source_server():
    """The second server, shared by this module's tests (each gets its own database). Under the
    test home, not pytest's tmp dir: pytest makes that owner-only, and the server runs as
    another OS user."""
    home = Path(os.environ.get("VETORIAL_TEST_HOME") or REPO / ".vetorial-test")
    home.mkdir(parents=True, exist_ok=True)
    with second_server(home) as server:
        yield server


@pytest.fixture
def chatwoot_source(source_server, monkeypatch):
    """The sandbox Chatwoot schema, view and seed in a fresh database of the second server,
    wired by env var (overrides conftest's same-server source)."""
    import uuid

    from vetorial_assets.sandbox.chatwoot_db import SandboxChatwoot

    name = f"cw_{uuid.uuid4().hex[:10]}"
    with source_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    source = SandboxChatwoot(source_server.url(name))  # the owner creates, seeds and later alters
    source.create()
    source.seed(conversations_per_inbox=40)
    # The sync reads as a password-authenticated role that may only SELECT the view.
    reader, password = f"reader_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex[:10]}:@"
    with source_server.connect(database=name, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(reader), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(VIEW_NAME), sql.Identifier(reader)))
        # The tests replace the view: the replacement is readable too.
        conn.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(
                sql.Identifier(reader)
            )
        )
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", source_server.url(name, user=reader, password=password))
    yield source
    with source_server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # Default privileges lived in the dropped database: the role has nothing left.
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(reader)))


OP = "raw__conversas_analytics"
TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)
LONG_NAME = ("Maria Aparecida dos Santos " * 200)[:5000]

# The sandbox view's columns, some computed differently (the special rows by id).
VIEW = """
DROP VIEW IF EXISTS vw_conversations_analytics_final;
CREATE VIEW vw_conversations_analytics_final AS
SELECT
    CASE WHEN c.id = {null_id} THEN NULL ELSE c.id END AS conversation_id,
    c.account_id, c.inbox_id, i.name AS inbox_name, i.channel_type, c.contact_id,
    CASE WHEN c.id = {long_name_id} THEN {long_name} ELSE ct.name END AS contact_name,
    ct.phone_number AS contact_phone, ct.email AS contact_email,
    c.status::text AS status,
    CASE WHEN c.id = {bad_assignee_id} THEN 'n/a' ELSE c.assignee_id::text END AS assignee_id,
    COALESCE(string_to_array(c.cached_label_list, ', '), '{{}}'::text[]) AS labels,
    c.created_at AT TIME ZONE 'UTC' AS conversation_created_at,
    c.updated_at AT TIME ZONE 'UTC' AS conversation_updated_at,
    c.first_reply_created_at AT TIME ZONE 'UTC' AS first_response_at,
    CASE c.id WHEN {big_count_id} THEN 3000000000::numeric
              WHEN {huge_count_id} THEN 1e20::numeric
              WHEN {fraction_id} THEN 2.5::numeric
              ELSE (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)::numeric END AS message_count,
    false AS is_lead, false AS visit_scheduled, false AS crm_converted,
    'alta'::text AS ai_probability_label,
    CASE WHEN c.id = {big_count_id} THEN 100::numeric ELSE (c.id % 100)::numeric + 0.75 END AS ai_probability_score
FROM conversations c
LEFT JOIN inboxes i ON i.id = c.inbox_id
LEFT JOIN contacts ct ON ct.id = c.contact_id
"""


def sync(defs, instance, raise_on_error=True, **config):
    run_config = {"ops": {OP: {"config": config}}} if config else None
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance, partition_key=TENANT, run_config=run_config, raise_on_error=raise_on_error
    )


def _special_ids(source) -> dict[str, int]:
    with source.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM conversations WHERE account_id = %s AND inbox_id = ANY(%s) ORDER BY updated_at, id",
                (ACCOUNT, list(INBOXES)),
            )
        ]
    # The NULL key on the oldest row: an incremental run after the fix would never read it again.
    return {
        "null_id": ids[0],
        "long_name_id": ids[1],
        "bad_assignee_id": ids[2],
        "big_count_id": ids[3],
        "huge_count_id": ids[4],
        "fraction_id": ids[5],
    }


def _replace_view(source, special: dict[str, int]) -> None:
    params = {k: sql.Literal(v) for k, v in special.items()}
    with source.connect() as conn:
        conn.execute(sql.SQL(VIEW).format(long_name=sql.Literal(LONG_NAME), **params))
        conn.commit()


def _restore_view(source) -> None:
    source.create()  # the sandbox's schema and view again (idempotent): the source is fixed


def _warehouse(db) -> dict[int, tuple]:
    with db.connect() as conn:
        return {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT conversation_id, message_count, ai_probability_score, contact_name, assignee_id"
                " FROM raw.conversas_analytics WHERE tenant_id = %s",
                (TENANT,),
            )
        }


def _source(source) -> dict:
    with source.connect() as conn:
        return {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT conversation_id, message_count, ai_probability_score, contact_name, assignee_id"
                f" FROM {VIEW_NAME}"
                " WHERE account_id = %s AND inbox_id = ANY(%s)",
                (ACCOUNT, list(INBOXES)),
            )
        }


def _rejected(db) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT source, partition, run_id, table_name, row_key, column_name, reason, value, action"
            " FROM ops.rejected_values ORDER BY id"
        ).fetchall()


def test_source_values_the_warehouse_cannot_hold_are_quarantined_and_the_rest_lands(
    make_defs, instance, vetorial_env, chatwoot_source
):
    special = _special_ids(chatwoot_source)
    _replace_view(chatwoot_source, special)
    defs = make_defs()
    result = sync(defs, instance)
    assert result.success
    run_id = result.run_id

    stored, source = _warehouse(vetorial_env), _source(chatwoot_source)
    good_ids = {i for i in source if i is not None}
    assert set(stored) == good_ids  # every row but the NULL-key one
    nulled_counts = {special["huge_count_id"], special["fraction_id"]}
    for cid, (count, score, name, assignee) in stored.items():
        src_count, src_score, src_name, src_assignee = source[cid]
        # Every good value lands as the source has it, on its own scale, never wrapped or cut.
        assert score == src_score and name == src_name, cid
        assert count == (None if cid in nulled_counts else int(src_count)), cid
        assert assignee == (
            None if cid == special["bad_assignee_id"] else (int(src_assignee) if src_assignee is not None else None)
        ), cid
    assert stored[special["big_count_id"]][0] == 3_000_000_000  # not -1,294,967,296 (issue 11 defect 1)
    assert len(stored[special["long_name_id"]][2]) == 5000
    # The 0-100 score as the source has it (100 overflowed the old numeric(6,4)).
    assert stored[special["big_count_id"]][1] == Decimal("100")
    with vetorial_env.connect() as conn:
        assert conn.execute("SELECT count(*) FROM raw.conversas_analytics WHERE message_count < 0").fetchone() == (0,)

    rejected = {(r[5], r[8]): r for r in _rejected(vetorial_env)}
    assert (
        set(rejected) == {("conversation_id", "row_skipped"), ("message_count", "nulled"), ("assignee_id", "nulled")}
        and len(_rejected(vetorial_env)) == 4
    )
    for source_, partition, run, table, *_ in _rejected(vetorial_env):
        assert (source_, partition, run, table) == (
            "raw/conversas_analytics",
            TENANT,
            run_id,
            "raw.conversas_analytics",
        )
    by_key = {(r[4].get("conversation_id"), r[5]): r for r in _rejected(vetorial_env)}
    assert "out of range for bigint" in by_key[(special["huge_count_id"], "message_count")][6]
    assert by_key[(special["huge_count_id"], "message_count")][7] == "100000000000000000000"
    assert "2.5 is not a whole number" in by_key[(special["fraction_id"], "message_count")][6]
    assert "str value 'n/a' is not a bigint" in by_key[(special["bad_assignee_id"], "assignee_id")][6]
    assert by_key[(None, "conversation_id")][6] == "NULL in a NOT NULL column"

    meta = instance.get_latest_materialization_event(KEY).asset_materialization.metadata
    assert meta["values_nulled"].value == 3 and meta["rows_skipped"].value == 1
    assert meta["dagster/row_count"].value == len(good_ids)
    check_key = AssetCheckKey(KEY, REJECTED_VALUES)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])[check_key]
    evaluation = record.event.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["rejected_values"].value == 4
    assert evaluation.metadata["values_nulled"].value == 3 and evaluation.metadata["rows_skipped"].value == 1
    sample = evaluation.metadata["sample"].value
    assert {(s["column"], s["action"]) for s in sample} == set(rejected)
    assert all(s["table"] == "raw.conversas_analytics" and s["partition"] == TENANT for s in sample)
    # One warning names the columns some of whose values may not fit, before anything is read.
    warnings = [e.user_message for e in instance.all_logs(run_id) if "may not fit" in e.user_message]
    assert len(warnings) == 1
    assert "message_count (numeric -> bigint)" in warnings[0] and "assignee_id (text -> bigint)" in warnings[0]


def test_a_skipped_row_lands_on_the_reconcile_run_after_the_source_is_fixed(
    make_defs, instance, vetorial_env, chatwoot_source
):
    special = _special_ids(chatwoot_source)
    _replace_view(chatwoot_source, special)
    defs = make_defs()
    assert sync(defs, instance).success
    assert special["null_id"] not in _warehouse(vetorial_env)

    _restore_view(chatwoot_source)  # the source is fixed; the row's updated_at is older than the watermark
    assert sync(defs, instance).success  # incremental: it does not read that far back
    assert special["null_id"] not in _warehouse(vetorial_env)
    assert sync(defs, instance, reconcile=True).success
    stored, source = _warehouse(vetorial_env), _source(chatwoot_source)
    assert special["null_id"] in stored
    assert stored == {k: (v[0], v[1], v[2], v[3]) for k, v in source.items()}
    # The values nulled before are filled in by the same reconcile (the fixed source has them).
    assert stored[special["huge_count_id"]][0] == source[special["huge_count_id"]][0]


def test_a_source_type_no_value_of_which_fits_fails_before_reading(
    make_defs, instance, vetorial_env, chatwoot_source, monkeypatch
):
    defs = make_defs()
    assert sync(defs, instance).success
    before = _warehouse(vetorial_env)
    with chatwoot_source.connect() as conn:
        conn.execute(
            f"CREATE VIEW vw_bad_types AS SELECT conversation_id, account_id, inbox_id, inbox_name,"
            f" channel_type, contact_id, contact_name, contact_phone, contact_email, status, assignee_id,"
            f" labels, is_lead AS conversation_created_at, conversation_updated_at, first_response_at,"
            f" message_count, is_lead, visit_scheduled, crm_converted, ai_probability_label,"
            f" conversation_created_at::date AS ai_probability_score FROM {VIEW_NAME}"
        )
        conn.commit()
    monkeypatch.setenv("VETORIAL_CHATWOOT_RELATION", "vw_bad_types")
    chatwoot_source.touch(chatwoot_source.conversation_ids(ACCOUNT, INBOXES)[:2], at=chatwoot_source.now())
    result = sync(make_defs(), instance, raise_on_error=False)
    assert not result.success
    with vetorial_env.connect() as conn:
        error = conn.execute("SELECT error_message FROM ops.etl_control ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert "SourceTypeError" in error
    assert "conversation_created_at (boolean -> timestamp with time zone)" in error
    assert "ai_probability_score (date -> numeric)" in error
    assert _warehouse(vetorial_env) == before


def test_the_doctor_reports_the_same_comparison(make_defs, chatwoot_source):
    from vetorial_assets.chatwoot.doctor import source_schema_check
    from vetorial_assets.doctor import DoctorWarning

    defs = make_defs()  # the Chatwoot URL from VETORIAL_CHATWOOT_URL
    assert "has all 21 columns" in source_schema_check(defs)()
    special = _special_ids(chatwoot_source)
    _replace_view(chatwoot_source, special)
    with pytest.raises(DoctorWarning, match=r"may not fit .*message_count \(numeric -> bigint\)"):
        source_schema_check(defs)()
    with chatwoot_source.connect() as conn:
        conn.execute(f"DROP VIEW {VIEW_NAME}")
        conn.execute(
            f"CREATE VIEW {VIEW_NAME} AS SELECT c.id AS conversation_id, c.account_id, c.inbox_id,"
            " NULL::text AS inbox_name, NULL::text AS channel_type, c.contact_id, NULL::text AS contact_name,"
            " NULL::text AS contact_phone, NULL::text AS contact_email, NULL::text AS status,"
            " c.assignee_id, '{}'::text[] AS labels, true AS conversation_created_at,"
            " c.updated_at AS conversation_updated_at, NULL::timestamp AS first_response_at,"
            " 1 AS message_count, false AS is_lead, false AS visit_scheduled, false AS crm_converted,"
            " NULL::text AS ai_probability_label, NULL::numeric AS ai_probability_score FROM conversations c"
        )
        conn.commit()
    with pytest.raises(source_types.SourceTypeError, match=r"conversation_created_at \(boolean -> timestamp"):
        source_schema_check(defs)()


def test_wire_needs_the_same_type_modifier():
    from resources.source.relation import SourceRelation

    rel = SourceRelation(
        "public",
        "v",
        {"a": "numeric", "b": "numeric", "c": "character varying"},
        {"a": 1700, "b": 1700, "c": 1043},
        {},
        {"a": "numeric", "b": "numeric(6,4)", "c": "character varying(20)"},
    )
    narrow = source_types.compare(
        rel, {"a": "numeric(6,4)", "b": "numeric", "c": "text"}, ["a", "b", "c"], {"a": 1700, "b": 1700, "c": 25}
    )
    assert [(m.column, m.verdict, m.wire) for m in narrow.matches] == [
        ("a", "may_not_fit", False),
        ("b", "fits", True),
        ("c", "fits", True),
    ]
    assert narrow.wire() == {"b": 1700, "c": 1043}
