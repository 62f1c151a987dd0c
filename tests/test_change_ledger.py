"""The change ledger against a real PostgreSQL: whatever writes a tracked table (the load
path's COPY and MERGE, plain INSERT / UPDATE / DELETE) records the (scope, day) units it
touched, in its own transaction; unchanged rows and rolled-back writes record nothing; a
consumer reads each change once it is committed, even when ids commit out of order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from resources.warehouse import Warehouse
from vetorial_assets.warehouse import ledger
from vetorial_assets.warehouse.tables import insights_meta_ads

META = "staging.insights_meta_ads"
D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


def _insight(account: str, day: date, ad: str, spend: float = 1.0) -> dict:
    return {
        "hash_id": f"{account}-{ad}-{day}",
        "data": day,
        "account_id": account,
        "ad_id": ad,
        "plataforma": "facebook",
        "posicionamento": "feed",
        "valor_gasto": spend,
        "impressoes": 10,
        "alcance": 5,
        "cliques": 1,
        "leads_formulario": 0,
        "leads_site": 0,
        "leads_mensagem": 0,
        "leads_total": 0,
        "seguidores_instagram": 0,
    }


def _recorded(wh: Warehouse, table: str = META, after: int = 0) -> list[tuple]:
    with wh.transaction() as conn:
        return conn.execute(
            "SELECT scope, day FROM ops.changed_days WHERE table_name = %s AND id > %s ORDER BY scope, day, id",
            (table, after),
        ).fetchall()


def _last_id(wh: Warehouse) -> int:
    with wh.transaction() as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM ops.changed_days").fetchone()[0]


def test_load_path_copy_and_merge_record_the_units_they_wrote_and_unchanged_rows_record_nothing(wh):
    rows = [
        _insight("act_1", D1, "a"),
        _insight("act_1", D1, "b"),
        _insight("act_1", D2, "a"),
        _insight("act_2", D1, "a"),
    ]
    first = wh.load(insights_meta_ads, [rows])  # empty target: the direct COPY
    assert first.inserted == 4
    # One row per distinct (scope, day) of the statement, not per row.
    assert _recorded(wh) == [("act_1", D1), ("act_1", D2), ("act_2", D1)]

    mark = _last_id(wh)
    again = wh.load(insights_meta_ads, [rows])  # the MERGE: every row identical
    assert again.unchanged == 4 and _recorded(wh, after=mark) == []

    changed = [dict(r) for r in rows]
    changed[2]["valor_gasto"] = 9.5  # act_1 on D2 restated
    changed.append(_insight("act_2", D3, "c"))  # a new row
    result = wh.load(insights_meta_ads, [changed])
    assert (result.inserted, result.updated) == (1, 1)
    assert _recorded(wh, after=mark) == [("act_1", D2), ("act_2", D3)]

    mark = _last_id(wh)
    # A replace scope deleting a vanished row records its day.
    wh.load(
        insights_meta_ads,
        [[r for r in changed if r["account_id"] == "act_1" and r["ad_id"] != "b"]],
        replace_scope={"account_id": "act_1"},
    )
    assert _recorded(wh, after=mark) == [("act_1", D1)]


def test_plain_insert_update_delete_record_old_and_new_days(wh):
    with wh.transaction() as conn:
        conn.execute(
            "INSERT INTO raw.ig_follows (ig_account_id, data_registro, status, follows, payload)"
            " VALUES ('ig1', %s, 'ok', 3, '{}'), ('ig1', %s, 'ok', 4, '{}')",
            (D1, D2),
        )
    assert _recorded(wh, "raw.ig_follows") == [("ig1", D1), ("ig1", D2)]
    mark = _last_id(wh)
    with wh.transaction() as conn:  # an operator moves a row to another day: both days changed
        conn.execute("UPDATE raw.ig_follows SET data_registro = %s WHERE data_registro = %s", (D3, D1))
    assert _recorded(wh, "raw.ig_follows", mark) == [("ig1", D1), ("ig1", D3)]
    mark = _last_id(wh)
    with wh.transaction() as conn:
        conn.execute("DELETE FROM raw.ig_follows WHERE data_registro = %s", (D2,))
        conn.execute("UPDATE raw.ig_follows SET follows = 3 WHERE false")  # touches nothing
    assert _recorded(wh, "raw.ig_follows", mark) == [("ig1", D2)]


def test_conversations_record_the_local_day_and_a_soft_delete_is_an_update(wh):
    created = datetime(2025, 3, 2, 1, 30, tzinfo=UTC)  # still March 1st in Sao Paulo
    with wh.transaction() as conn:
        conn.execute(
            "INSERT INTO raw.conversas_analytics (conversation_id, tenant_id, account_id,"
            " conversation_created_at, conversation_updated_at, conversation_date)"
            " VALUES (1, 'allpfit', 7, %s, %s, %s), (2, 'allpfit', 7, NULL, %s, NULL)",
            (created, created, D1, created),
        )
    # Conversation 2 has no local date (no creation time): its update time's local date (also
    # March 1st) stands in; one row for the unit.
    assert _recorded(wh, "raw.conversas_analytics") == [("allpfit", D1)]
    mark = _last_id(wh)
    with wh.transaction() as conn:
        conn.execute("UPDATE raw.conversas_analytics SET deleted_at = now() WHERE conversation_id = 1")
    assert _recorded(wh, "raw.conversas_analytics", mark) == [("allpfit", D1)]


def test_a_rolled_back_write_records_nothing(wh):
    with pytest.raises(RuntimeError):
        with wh.transaction() as conn:
            conn.execute(
                "INSERT INTO raw.ig_follows (ig_account_id, data_registro, status, payload)"
                " VALUES ('ig1', %s, 'ok', '{}')",
                (D1,),
            )
            raise RuntimeError("the run failed after writing")
    assert _recorded(wh, "raw.ig_follows") == []


def test_a_consumer_reads_everything_first_then_each_committed_change_once_even_out_of_id_order(wh):
    wh.load(insights_meta_ads, [[_insight("act_1", D1, "a")]])
    engine = wh.engine()
    with ledger.consumer_lock(engine, "mart/x"):
        first = ledger.read_changes(engine, "mart/x", [META])
        assert first.full
        with wh.transaction() as conn:
            ledger.advance(conn, first)
    assert ledger.read_changes(engine, "mart/x", [META]).empty

    # Transaction A draws its ledger id first but commits last.
    slow = engine.raw_connection()
    try:
        slow.driver_connection.execute(
            "UPDATE staging.insights_meta_ads SET valor_gasto = 2 WHERE account_id = 'act_1'"
        )
        wh.load(insights_meta_ads, [[_insight("act_2", D2, "b")]])  # B: a later id, committed
        seen = ledger.read_changes(engine, "mart/x", [META])
        assert seen.units[META] == {("act_2", D2)}
        with wh.transaction() as conn:
            ledger.advance(conn, seen)
        slow.driver_connection.commit()
    finally:
        slow.close()
    late = ledger.read_changes(engine, "mart/x", [META])
    assert late.units[META] == {("act_1", D1)}  # A's change is read, and only it
    with wh.transaction() as conn:
        ledger.advance(conn, late)
    assert ledger.read_changes(engine, "mart/x", [META]).empty


def test_expansions_are_pure_and_cover_dependent_days():
    units = {("t", date(2025, 1, 30))}
    assert ledger.days_forward(units, 2) == {
        ("t", date(2025, 1, 30)),
        ("t", date(2025, 1, 31)),
        ("t", date(2025, 2, 1)),
    }
    assert ledger.months_and_next({("t", date(2025, 12, 31))}) == {("t", date(2025, 12, 1)), ("t", date(2026, 1, 1))}
    assert ledger.day_and_later({("t", date(2025, 1, 30)), ("t", date(2025, 1, 31))}, date(2025, 2, 1)) == {
        ("t", date(2025, 1, 30)),
        ("t", date(2025, 1, 31)),
        ("t", date(2025, 2, 1)),
    }
    assert ledger.map_scopes({("act_1", D1), ("act_9", D1)}, {"act_1": "allpfit"}) == {("allpfit", D1)}
    assert ledger.by_scope({("b", D2), ("a", D1), ("b", D1)}) == {"a": [D1], "b": [D1, D2]}
