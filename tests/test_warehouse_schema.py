"""Warehouse.ensure_schema against a real PostgreSQL: idempotent, and the numbered migrations
bring a warehouse an older version created to the current tables, once, keeping its rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from resources import warehouse as warehouse_module
from resources.warehouse import Warehouse
from vetorial_assets.warehouse import migrate

OLD_INDEX = "raw.ix_conversas_analytics_tenant_updated"
VERSIONS = [m.version for m in migrate.migrations()]

# What the version before the migrations created (create_all of that day's tables.py), from a
# current warehouse: the narrow types, the index since dropped, no fillfactor, no rows_total,
# and neither ops.schema_migrations nor ops.rejected_values.
OLD_WAREHOUSE = f"""
DROP TABLE ops.schema_migrations;
DROP TABLE ops.rejected_values;
DROP VIEW ops.vw_etl_stats;
ALTER TABLE raw.conversas_analytics ALTER COLUMN message_count TYPE integer,
    ALTER COLUMN ai_probability_score TYPE numeric(6,4), RESET (fillfactor);
CREATE INDEX {OLD_INDEX.split(".")[1]} ON raw.conversas_analytics (tenant_id, conversation_updated_at);
ALTER TABLE raw.ig_follows ALTER COLUMN follows TYPE integer, ALTER COLUMN unfollows TYPE integer,
    ALTER COLUMN net TYPE integer;
ALTER TABLE staging.insights_meta_ads ALTER COLUMN valor_gasto TYPE numeric(14,2);
ALTER TABLE ops.etl_control DROP COLUMN rows_total, ALTER COLUMN rows_extracted TYPE integer,
    ALTER COLUMN rows_inserted TYPE integer, ALTER COLUMN rows_updated TYPE integer,
    ALTER COLUMN rows_unchanged TYPE integer, ALTER COLUMN rows_deleted TYPE integer,
    ALTER COLUMN duration_seconds TYPE numeric(12,3);
"""

OLD_ROWS = """
INSERT INTO raw.conversas_analytics (conversation_id, tenant_id, account_id, conversation_updated_at,
    message_count, ai_probability_score, contact_name)
VALUES (1, 'allpfit', 1, '2025-01-01T10:00Z', 2147483647, 99.9999, 'Ana'),
       (2, 'allpfit', 1, '2025-01-02T10:00Z', NULL, 0.125, NULL);
INSERT INTO raw.ig_follows (ig_account_id, data_registro, status, follows, unfollows, net, payload)
VALUES ('1784', '2025-01-01', 'ok', 9, 3, 6, '{}');
INSERT INTO staging.insights_meta_ads (hash_id, data, account_id, ad_id, plataforma, posicionamento, valor_gasto,
    impressoes, alcance, cliques, leads_formulario, leads_site, leads_mensagem, leads_total, seguidores_instagram)
VALUES ('h1', '2025-01-01', 'act_1', 'ad1', 'facebook', 'feed', 123456789012.34, 1, 1, 0, 0, 0, 0, 0, 0);
INSERT INTO ops.etl_control (execution_id, asset_key, tenant_id, status, rows_extracted, rows_inserted,
    duration_seconds, load_type, triggered_by)
VALUES ('run-1', 'raw/conversas_analytics', 'allpfit', 'success', 2, 2, 1.5, 'full', 'manual');
"""

COLUMNS = """
SELECT c.relnamespace::regnamespace || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace::regnamespace::text IN ('raw', 'staging', 'ops') AND c.relkind IN ('r', 'v')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2
"""


def _fresh_pass(wh: Warehouse, monkeypatch) -> None:
    """ensure_schema as a new process runs it (the pass is cached per process)."""
    monkeypatch.setattr(warehouse_module, "_schemas_ready", set())
    wh.ensure_schema()


@pytest.fixture
def wh(fresh_db, monkeypatch) -> Warehouse:
    warehouse = Warehouse(url=fresh_db.url)
    _fresh_pass(warehouse, monkeypatch)
    return warehouse


def _query(wh: Warehouse, statement: str, params=None) -> list[tuple]:
    with wh.transaction() as conn:
        return conn.execute(statement, params).fetchall()


def _recorded(wh: Warehouse) -> list[str]:
    return [r[0] for r in _query(wh, "SELECT version FROM ops.schema_migrations ORDER BY version")]


def _conversas_state(wh: Warehouse) -> tuple:
    return _query(
        wh,
        "SELECT to_regclass(%s)::text, reloptions FROM pg_class WHERE oid = 'raw.conversas_analytics'::regclass",
        (OLD_INDEX,),
    )[0]


@pytest.fixture
def old_wh(wh) -> Warehouse:
    with wh.transaction() as conn:
        conn.execute(OLD_WAREHOUSE)
        conn.execute(OLD_ROWS)
    return wh


def test_migration_files_are_numbered_in_order():
    assert VERSIONS == sorted(VERSIONS) and len(VERSIONS) >= 3
    assert VERSIONS[2] == "0003_widen_source_columns"


def test_a_new_warehouse_is_current_and_records_every_migration_without_running_it(wh, monkeypatch):
    assert _recorded(wh) == VERSIONS
    assert _conversas_state(wh) == (None, ["fillfactor=90"])
    before = _query(wh, COLUMNS)
    _fresh_pass(wh, monkeypatch)  # and again: nothing to do
    assert _query(wh, COLUMNS) == before and _recorded(wh) == VERSIONS


def test_an_older_warehouse_is_migrated_once_and_keeps_its_rows(old_wh, make_db, monkeypatch):
    conversas = (
        "SELECT conversation_id, message_count, ai_probability_score, contact_name"
        " FROM raw.conversas_analytics ORDER BY 1"
    )
    kept = {
        q: _query(old_wh, q)
        for q in (
            conversas,
            "SELECT ig_account_id, data_registro, follows, unfollows, net FROM raw.ig_follows",
            "SELECT hash_id, valor_gasto FROM staging.insights_meta_ads",
            "SELECT execution_id, rows_extracted, rows_inserted, duration_seconds FROM ops.etl_control",
        )
    }
    assert _conversas_state(old_wh) == (OLD_INDEX, None)

    _fresh_pass(old_wh, monkeypatch)

    assert _recorded(old_wh) == VERSIONS
    assert {q: _query(old_wh, q) for q in kept} == kept
    assert _query(old_wh, conversas)[0][1:3] == (2147483647, Decimal("99.9999"))
    assert _conversas_state(old_wh) == (None, ["fillfactor=90"])
    # Column for column the types a new warehouse gets (views and ops tables included).
    current = Warehouse(url=make_db("cur").url)
    _fresh_pass(current, monkeypatch)
    assert _query(old_wh, COLUMNS) == _query(current, COLUMNS)
    # The widened columns now take what the old ones could not.
    with old_wh.transaction() as conn:
        conn.execute(
            "UPDATE raw.conversas_analytics SET message_count = 3000000000, ai_probability_score = 87.5"
            " WHERE conversation_id = 2"
        )
        conn.execute("UPDATE staging.insights_meta_ads SET valor_gasto = 1e15 + 0.125")
        conn.execute(
            "INSERT INTO raw.ig_follows (ig_account_id, data_registro, status, follows, unfollows, net,"
            " payload) VALUES ('1784', '2025-01-02', 'ok', 3000000000, 0, 3000000000, '{}')"
        )
    assert _query(old_wh, conversas)[1][1:3] == (3_000_000_000, Decimal("87.5"))
    assert _query(old_wh, "SELECT valor_gasto FROM staging.insights_meta_ads") == [(Decimal("1000000000000000.125"),)]
    assert _query(old_wh, "SELECT count(*) FROM ops.vw_etl_stats") == [(1,)]

    # Recorded: a later pass runs none of them again, even on a table changed since.
    with old_wh.transaction() as conn:
        conn.execute("ALTER TABLE raw.conversas_analytics SET (fillfactor = 70)")
    _fresh_pass(old_wh, monkeypatch)
    assert _conversas_state(old_wh) == (None, ["fillfactor=70"])


def test_a_fillfactor_chosen_by_hand_in_an_older_warehouse_is_kept(old_wh, monkeypatch):
    with old_wh.transaction() as conn:
        conn.execute("ALTER TABLE raw.conversas_analytics SET (fillfactor = 70)")
    _fresh_pass(old_wh, monkeypatch)
    assert _conversas_state(old_wh) == (None, ["fillfactor=70"])


def test_a_warehouse_older_than_a_table_gets_it_current(old_wh, monkeypatch):
    # A warehouse from before raw.ig_follows existed: create_all makes it in its current
    # form, and the migrations that alter it (recorded as not applied) leave it so.
    with old_wh.transaction() as conn:
        conn.execute("DROP TABLE raw.ig_follows")
    _fresh_pass(old_wh, monkeypatch)
    types = _query(
        old_wh,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'raw.ig_follows'::regclass AND attname IN ('follows', 'net')"
        " ORDER BY 1",
    )
    assert types == [("follows", "bigint"), ("net", "bigint")]
    assert _recorded(old_wh) == VERSIONS


def test_migrations_run_under_the_lock_once_when_processes_race(old_wh, monkeypatch):
    import threading

    errors = []

    def worker():
        try:
            Warehouse(url=old_wh.url).ensure_schema()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    monkeypatch.setattr(warehouse_module, "_schemas_ready", set())
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _recorded(old_wh) == VERSIONS


def test_the_contract_types_are_the_catalog_types(wh):
    # What `vetorial doctor` compares a source with, column for column what the warehouse has.
    from vetorial_assets.warehouse.contract import column_types
    from vetorial_assets.warehouse.tables import metadata

    catalog = {}
    for table, column, type_text in _query(wh, COLUMNS):
        catalog.setdefault(table, {})[column] = type_text
    for table in metadata.sorted_tables:
        assert column_types(table) == catalog[table.fullname], table.fullname
