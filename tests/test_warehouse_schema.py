"""Warehouse.ensure_schema against a real PostgreSQL: idempotent, and it upgrades tables
that an older version created (create_all never alters an existing table)."""

from __future__ import annotations

import pytest

from resources import warehouse as warehouse_module
from resources.warehouse import Warehouse

OLD_INDEX = "raw.ix_conversas_analytics_tenant_updated"


@pytest.fixture
def wh(fresh_db, monkeypatch) -> Warehouse:
    # Every ensure_schema below runs as in a new process (the pass is cached per process).
    monkeypatch.setattr(warehouse_module, "_schemas_ready", set())
    warehouse = Warehouse(url=fresh_db.url)
    warehouse.ensure_schema()
    return warehouse


def _rerun(wh: Warehouse, monkeypatch) -> None:
    monkeypatch.setattr(warehouse_module, "_schemas_ready", set())
    wh.ensure_schema()


def _state(wh: Warehouse) -> tuple:
    with wh.transaction() as conn:
        return conn.execute(
            "SELECT to_regclass(%s)::text, reloptions FROM pg_class WHERE oid = 'raw.conversas_analytics'::regclass",
            (OLD_INDEX,)).fetchone()


def test_new_warehouse_has_the_current_conversas_analytics(wh):
    assert _state(wh) == (None, ["fillfactor=90"])


def test_an_older_conversas_analytics_is_upgraded(wh, monkeypatch):
    with wh.transaction() as conn:  # what the version before the performance work created
        conn.execute(f"CREATE INDEX {OLD_INDEX.split('.')[1]} ON raw.conversas_analytics "
                     "(tenant_id, conversation_updated_at)")
        conn.execute("ALTER TABLE raw.conversas_analytics RESET (fillfactor)")
    assert _state(wh) == (OLD_INDEX, None)
    _rerun(wh, monkeypatch)
    assert _state(wh) == (None, ["fillfactor=90"])
    _rerun(wh, monkeypatch)  # and again: nothing left to do, nothing fails
    assert _state(wh) == (None, ["fillfactor=90"])


def test_a_fillfactor_chosen_by_hand_is_kept(wh, monkeypatch):
    with wh.transaction() as conn:
        conn.execute("ALTER TABLE raw.conversas_analytics SET (fillfactor = 70)")
    _rerun(wh, monkeypatch)
    assert _state(wh) == (None, ["fillfactor=70"])


def test_an_older_etl_control_gets_rows_total(wh, monkeypatch):
    def has_column() -> bool:
        with wh.transaction() as conn:
            return conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'ops.etl_control'::regclass"
                                " AND attname = 'rows_total' AND NOT attisdropped").fetchone()[0] == 1

    assert has_column()
    with wh.transaction() as conn:  # as created before the column existed
        conn.execute("ALTER TABLE ops.etl_control DROP COLUMN rows_total")
    assert not has_column()
    _rerun(wh, monkeypatch)
    assert has_column()
