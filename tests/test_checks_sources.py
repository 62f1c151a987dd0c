"""The standard checks of the source tables (asset_checks/library.py): each passes on good data
and fails on a planted defect, with the offending rows in its metadata; a blocking check stops
downstream. Run through Dagster (a job of the checks), on a real warehouse."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    AssetSpec,
    Definitions,
    MaterializeResult,
    asset,
    define_asset_job,
)

from asset_checks import chatwoot as chatwoot_checks
from asset_checks import instagram as instagram_checks
from asset_checks import meta as meta_checks
from asset_checks.library import TableCheck, table_checks
from resources.warehouse import Warehouse

META_RAW = meta_checks.RAW.asset
NEWEST = date(2025, 3, 15)


@pytest.fixture
def warehouse(fresh_db):
    wh = Warehouse(url=fresh_db.url)
    wh.ensure_schema()
    return wh


def _meta_day(conn, account: str, day: date, rows: int, *, pulled: bool = True) -> None:
    for i in range(rows):
        conn.execute(
            "INSERT INTO raw.meta_ads_insights (account_id, data, ad_id, publisher_platform, platform_position, "
            "payload, content_hash) VALUES (%s, %s, %s, 'facebook', 'feed', '{}'::jsonb, 'h')",
            (account, day, f"ad{i}"),
        )
    if pulled:
        conn.execute(
            "INSERT INTO ops.pulled_days (source, partition, day, pulled_at) VALUES "
            "('raw/meta_ads_insights', %s, %s, now())",
            (account, day),
        )


def _meta_history(warehouse, newest_rows: int = 10, accounts=("act_1", "act_2")) -> None:
    with warehouse.transaction() as conn:
        for account in accounts:
            for back in range(14, 0, -1):
                _meta_day(conn, account, NEWEST - timedelta(days=back), 10)
            _meta_day(conn, account, NEWEST, newest_rows if account == "act_1" else 10)


def _run_checks(warehouse, instance, spec: TableCheck, *, materialized: bool = True):
    if materialized:
        instance.report_runless_asset_event(AssetMaterialization(spec.asset))
    defs = Definitions(
        assets=[AssetSpec(spec.asset)],
        asset_checks=[table_checks(spec)],
        jobs=[define_asset_job("checks", selection=AssetSelection.checks_for_assets(spec.asset))],
        resources={"warehouse": warehouse},
    )
    result = defs.resolve_job_def("checks").execute_in_process(instance=instance, raise_on_error=False)
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _meta(evaluation, name):
    return evaluation.metadata[name].value


def test_good_data_passes_every_check(warehouse, instance):
    _meta_history(warehouse)
    results = _run_checks(warehouse, instance, meta_checks.RAW)
    assert set(results) == {"columns", "row_count", "key_unique"}
    assert all(e.passed for e in results.values()), {k: e.description for k, e in results.items()}
    assert _meta(results["row_count"], "partitions_judged") == 2
    assert _meta(results["row_count"], "rows") == 300
    assert _meta(results["key_unique"], "enforced_by") == "meta_ads_insights_pkey"


def test_dropped_column_fails_blocking_columns_check(warehouse, instance):
    _meta_history(warehouse)
    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP COLUMN content_hash")
        conn.execute("ALTER TABLE raw.meta_ads_insights ALTER COLUMN ad_id TYPE varchar(20)")
    columns = _run_checks(warehouse, instance, meta_checks.RAW)["columns"]
    assert not columns.passed and columns.severity == AssetCheckSeverity.ERROR
    assert _meta(columns, "missing_columns") == ["content_hash"]
    assert _meta(columns, "wrong_types") == ["ad_id: character varying(20) (contract: text)"]


def test_duplicated_key_fails_with_the_keys_in_metadata(warehouse, instance):
    _meta_history(warehouse)
    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP CONSTRAINT meta_ads_insights_pkey")
        _meta_day(conn, "act_2", NEWEST, 1, pulled=False)
    key = _run_checks(warehouse, instance, meta_checks.RAW)["key_unique"]
    assert not key.passed and key.severity == AssetCheckSeverity.ERROR
    assert _meta(key, "duplicate_keys") == 1
    assert _meta(key, "sample") == [
        {
            "account_id": "act_2",
            "data": str(NEWEST),
            "ad_id": "ad0",
            "publisher_platform": "facebook",
            "platform_position": "feed",
            "rows": 2,
        }
    ]


@pytest.mark.parametrize(
    "newest_rows, severity",
    [
        (0, AssetCheckSeverity.ERROR),
        (101, AssetCheckSeverity.ERROR),
        (4, AssetCheckSeverity.WARN),
        (25, AssetCheckSeverity.WARN),
    ],
)
def test_row_count_outside_the_band_of_the_14_day_median(warehouse, instance, newest_rows, severity):
    _meta_history(warehouse, newest_rows=newest_rows)
    count = _run_checks(warehouse, instance, meta_checks.RAW)["row_count"]
    assert not count.passed and count.severity == severity
    flagged = _meta(count, "outside_error_band" if severity == AssetCheckSeverity.ERROR else "outside_warn_band")
    assert flagged == [{"partition": f"act_1 {NEWEST}", "rows": newest_rows, "median_14": 10, "history_points": 14}]


def test_empty_table_after_a_materialization_is_an_error(warehouse, instance):
    count = _run_checks(warehouse, instance, meta_checks.RAW)["row_count"]
    assert not count.passed and count.severity == AssetCheckSeverity.ERROR
    assert "empty" in count.description


def test_not_yet_materialized_empty_table_passes(warehouse, instance):
    assert _run_checks(warehouse, instance, meta_checks.RAW, materialized=False)["row_count"].passed


def _conversation(conn, cid: int, tenant: str) -> None:
    conn.execute(
        "INSERT INTO raw.conversas_analytics (conversation_id, tenant_id, account_id, "
        "conversation_updated_at) VALUES (%s, %s, 1, now())",
        (cid, tenant),
    )


def test_chatwoot_tenant_collapse_against_etl_control_history(warehouse, instance):
    with warehouse.transaction() as conn:
        for i in range(5):
            _conversation(conn, i, "t1")
        for i in range(100, 200):
            _conversation(conn, i, "t2")
        now = datetime.now(UTC)
        for tenant in ("t1", "t2"):
            for back in range(5, -1, -1):  # the newest run (back 0) is the one that left the table as it is
                conn.execute(
                    "INSERT INTO ops.etl_control (execution_id, asset_key, tenant_id, completed_at, status, "
                    "rows_total, load_type, triggered_by) VALUES ('r', 'raw/conversas_analytics', %s, %s, "
                    "'success', 100, 'incremental', 'schedule')",
                    (tenant, now - timedelta(days=back)),
                )
    count = _run_checks(warehouse, instance, chatwoot_checks.RAW)["row_count"]
    assert not count.passed and count.severity == AssetCheckSeverity.ERROR
    assert _meta(count, "outside_error_band") == [{"partition": "t1", "rows": 5, "median_14": 100, "history_points": 5}]
    assert "ops.etl_control" in _meta(count, "history_source")


def test_instagram_quarantined_values_of_the_latest_run(warehouse, instance):
    with warehouse.transaction() as conn:
        for back in range(4):
            conn.execute(
                "INSERT INTO raw.ig_follows (ig_account_id, data_registro, status, payload) "
                "VALUES ('ig1', %s, 'ok', '{}'::jsonb)",
                (NEWEST - timedelta(days=back),),
            )
    spec = instagram_checks.RAW
    instance.report_runless_asset_event(AssetMaterialization(spec.asset))
    run_id = instance.get_latest_materialization_event(spec.asset).run_id
    with warehouse.transaction() as conn:
        conn.execute(
            "INSERT INTO ops.rejected_values (run_id, source, partition, table_name, row_key, column_name, "
            "reason, value, action) VALUES (%s, 'raw/ig_follows', 'ig1', 'raw.ig_follows', "
            "'{\"data_registro\": \"2025-03-15\"}', 'follows', 'out of range', '9e99', 'nulled')",
            (run_id,),
        )
    quarantined = _run_checks(warehouse, instance, spec, materialized=False)["quarantined"]
    assert not quarantined.passed and quarantined.severity == AssetCheckSeverity.WARN
    assert _meta(quarantined, "values_nulled") == 1
    assert _meta(quarantined, "sample")[0]["column"] == "follows"


def test_blocking_columns_check_stops_downstream(warehouse, instance):
    """A table that lost a column: the asset's run goes no further than the check."""
    _meta_history(warehouse)
    with warehouse.transaction() as conn:
        conn.execute("ALTER TABLE raw.meta_ads_insights DROP COLUMN payload")
    ran = []

    @asset(key=META_RAW)
    def upstream():
        return MaterializeResult()

    @asset(deps=[META_RAW])
    def downstream():
        ran.append(True)

    defs = Definitions(
        assets=[upstream, downstream],
        asset_checks=[table_checks(meta_checks.RAW)],
        jobs=[define_asset_job("all", selection=AssetSelection.all())],
        resources={"warehouse": warehouse},
    )
    result = defs.resolve_job_def("all").execute_in_process(instance=instance, raise_on_error=False)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["columns"].passed
    assert ran == []
    assert instance.get_latest_materialization_event(AssetKey("downstream")) is None
    assert json.dumps(_meta(evaluations["columns"], "missing_columns")) == '["payload"]'


def _mart_probe(warehouse, labels, *, pii_column: bool = False):
    """A mart-shaped table (its own MetaData: not part of the project's contract) holding `labels`."""
    from sqlalchemy import Column, Date, MetaData, PrimaryKeyConstraint, Table, Text

    table = Table(
        "pii_probe",
        MetaData(),
        Column("day", Date, nullable=False),
        Column("tenant_id", Text, nullable=False),
        Column("label", Text, info={"pii": pii_column}),
        PrimaryKeyConstraint("day", "tenant_id"),
        schema="mart",
    )
    table.create(warehouse.engine())
    with warehouse.transaction() as conn:
        for i, label in enumerate(labels):
            conn.execute(
                "INSERT INTO mart.pii_probe (day, tenant_id, label) VALUES (%s, %s, %s)",
                (NEWEST - timedelta(days=i), "allpfit", label),
            )
    return TableCheck(AssetKey(["mart", "pii_probe"]), table, no_pii=True, must_have_rows=False)


def test_no_pii_passes_on_aggregates(warehouse, instance):
    spec = _mart_probe(warehouse, ["campanha verão", "Instagram feed", "lead 2025-03-01 10:00", "R$ 1.234,56"])
    no_pii = _run_checks(warehouse, instance, spec)["no_pii"]
    assert no_pii.passed, no_pii.description
    assert _meta(no_pii, "text_columns_scanned") == 2


@pytest.mark.parametrize(
    "value, kind",
    [("maria.souza@example.com.br", "email"), ("ligar (11) 98765-4321", "phone"), ("+5511987654321", "phone")],
)
def test_a_pii_value_in_a_mart_fails_with_its_key(warehouse, instance, value, kind):
    spec = _mart_probe(warehouse, ["campanha verão", value])
    no_pii = _run_checks(warehouse, instance, spec)["no_pii"]
    assert not no_pii.passed and no_pii.severity == AssetCheckSeverity.ERROR
    assert _meta(no_pii, "rows_with_pii_like_values") == {f"label ({kind})": 1}
    day = str(NEWEST - timedelta(days=1))
    assert _meta(no_pii, "sample") == [{"column": "label", "kind": kind, "key": {"day": day, "tenant_id": "allpfit"}}]
    shown = json.dumps({k: v.value for k, v in no_pii.metadata.items()}) + (no_pii.description or "")
    assert value not in shown  # the value itself is never shown


def _tracked_probe(warehouse):
    """A table the change ledger tracks by (tenant_id, day), like the facts, for the incremental scan."""
    from sqlalchemy import Column, Date, MetaData, PrimaryKeyConstraint, Table, Text

    from vetorial_assets.warehouse.tables.ledger import track_changes

    table = track_changes(
        Table(
            "pii_tracked_probe",
            MetaData(),
            Column("day", Date),
            Column("tenant_id", Text),
            Column("n", Text, nullable=False),
            Column("label", Text),
            PrimaryKeyConstraint("n"),
            schema="mart",
        ),
        "tenant_id",
        "day",
    )
    table.create(warehouse.engine())
    return TableCheck(AssetKey(["mart", "pii_tracked_probe"]), table, no_pii=True, must_have_rows=False)


def _write(warehouse, statement: str, *params) -> None:
    with warehouse.transaction() as conn:
        conn.execute(statement, params)


def test_no_pii_scans_only_what_changed_and_keeps_failing_until_the_value_is_gone(warehouse, instance):
    spec = _tracked_probe(warehouse)
    for n in range(20):
        _write(warehouse, "INSERT INTO mart.pii_tracked_probe VALUES (%s, 'allpfit', %s, 'campanha')", NEWEST, str(n))

    def scan():
        result = _run_checks(warehouse, instance, spec)["no_pii"]
        return result.passed, _meta(result, "scanned"), _meta(result, "rows_scanned")

    assert scan() == (True, "all rows", 20)  # never passed before: the whole table
    assert scan()[1:] == ("rows of 0 changed (scope, day) unit(s) since the last pass", 0)
    # A new day with a phone in it: only that day is scanned, and it fails ...
    _write(warehouse, "INSERT INTO mart.pii_tracked_probe VALUES (%s, 'lacrei', 'x', 'ligar 11 98765-4321')", NEWEST)
    assert scan() == (False, "rows of 1 changed (scope, day) unit(s) since the last pass", 21 - 20 + 0)
    # ... and keeps failing while the value is there, though nothing changed since
    assert scan()[0] is False
    # A row the ledger cannot place (no day) is scanned every time.
    _write(warehouse, "INSERT INTO mart.pii_tracked_probe VALUES (NULL, 'lacrei', 'y', 'maria@example.com')")
    failed = _run_checks(warehouse, instance, spec)["no_pii"]
    assert _meta(failed, "rows_with_pii_like_values") == {"label (phone)": 1, "label (email)": 1}
    _write(warehouse, "DELETE FROM mart.pii_tracked_probe WHERE n IN ('x', 'y')")
    passed, _, rows = scan()
    assert passed and rows == 0  # the unit of the deleted row is scanned again: empty now
    assert scan() == (True, "rows of 0 changed (scope, day) unit(s) since the last pass", 0)


def test_no_pii_on_a_missing_table_of_a_bare_warehouse_says_so(fresh_db, instance):
    """Run alone on a database with no schema yet: each check says the table does not exist
    (the incremental scan has no ledger to read: it does not fail on that)."""
    from dagster import AssetKey

    from vetorial_assets.warehouse.tables.model import fact_ad_insights_daily

    spec = TableCheck(AssetKey(["model", "fact_ad_insights_daily"]), fact_ad_insights_daily, no_pii=True)
    results = _run_checks(Warehouse(url=fresh_db.url), instance, spec)
    assert not results["no_pii"].passed
    assert results["no_pii"].description == "model.fact_ad_insights_daily does not exist"


def test_the_pii_prefilters_never_reject_a_value_the_expression_matches(warehouse):
    """The cheap tests run before each expression (PII_PREFILTERS) only skip values the
    expression cannot match: checked in PostgreSQL on generated values shaped like ids,
    digests, phones and e-mails."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from psycopg import sql

    from asset_checks.library import PII_PATTERNS, PII_PREFILTERS

    # Values built from pieces of phones, e-mails, ids and digests, so both expressions match often.
    pieces = ["+55", "11", "(11)", "9", "98765", "4321", "8765", " ", "-", ".", "@", "_", "maria", "@example.com"]
    # Whole phones too: pieces alone rarely line up into one (the property must meet matches).
    pieces += ["11987654321", "(11) 98765-4321", "+55 11 98765 4321", "x11987654321"]
    piece = st.one_of(st.sampled_from(pieces), st.text("0123456789abcfXYZ@._-+() ", max_size=6))
    values = st.lists(st.lists(piece, max_size=8).map("".join), min_size=1, max_size=200)
    checks = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE v ~ {p} AND NOT (" + PII_PREFILTERS[kind] + "))").format(
            p=sql.Placeholder(kind), c=sql.Identifier("v")
        )
        for kind in PII_PATTERNS
    )
    matched = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE v ~ {})").format(sql.Placeholder(k)) for k in PII_PATTERNS
    )
    seen = [0, 0]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(values)
    def check(batch):
        with warehouse.transaction() as conn:
            row = conn.execute(
                sql.SQL("SELECT {}, {} FROM unnest(%(batch)s::text[]) AS v").format(checks, matched),
                {"batch": batch, **PII_PATTERNS},
            ).fetchone()
        assert row[:2] == (0, 0), [v for v in batch]
        seen[0] += row[2]
        seen[1] += row[3]

    check()
    # Known matches of each kind go through the prefilter too.
    with warehouse.transaction() as conn:
        row = conn.execute(
            sql.SQL("SELECT {}, {} FROM unnest(%(batch)s::text[]) AS v").format(checks, matched),
            {"batch": ["5511987654321", "11987654321", "a@b.co", "(11) 98765-4321"], **PII_PATTERNS},
        ).fetchone()
    assert row == (0, 0, 1, 3)
    assert seen[0] > 0 and seen[1] > 0, seen  # the generated values did reach both expressions


def test_a_pii_column_in_a_mart_contract_fails(warehouse, instance):
    spec = _mart_probe(warehouse, ["campanha"], pii_column=True)
    no_pii = _run_checks(warehouse, instance, spec)["no_pii"]
    assert not no_pii.passed and _meta(no_pii, "pii_columns_in_contract") == ["label"]
