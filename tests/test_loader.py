"""The one load path, against a real PostgreSQL: counts, idempotency, atomicity, contract, locks."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta

import pandas as pd
import pytest

from resources.load import LoadError
from resources.load import merge as merge_sql
from resources.warehouse import Warehouse
from vetorial_assets.warehouse.tables import insights_meta_ads


def staging_frame(n: int, start: int = 0, account: str = "act_1", spend_bump: float = 0.0) -> pd.DataFrame:
    idx = range(start, start + n)
    return pd.DataFrame(
        {
            "hash_id": [f"h{i:08d}" for i in idx],
            "data": [date(2025, 1, 1) + timedelta(days=i % 5) for i in idx],
            "account_id": account,
            "ad_id": [f"ad{i}" for i in idx],
            "plataforma": "facebook",
            "posicionamento": "feed",
            "valor_gasto": [round(i * 0.37 + spend_bump, 2) for i in idx],
            "impressoes": [i * 10 for i in idx],
            "alcance": [i * 7 for i in idx],
            "cliques": [i % 13 for i in idx],
            "leads_formulario": 1,
            "leads_site": 0,
            "leads_mensagem": 2,
            "leads_total": 3,
            "seguidores_instagram": 0,
            "ctr": [None if i % 4 == 0 else i / 100 for i in idx],
            "cpc": 0.5,
            "cpl": float("nan"),
        }
    )


def table_snapshot(wh: Warehouse) -> list[tuple]:
    with wh.transaction() as conn:
        return conn.execute(
            "SELECT hash_id, data, valor_gasto, impressoes, ctr, cpl, updated_at"
            " FROM staging.insights_meta_ads ORDER BY hash_id"
        ).fetchall()


def chunks_of(df: pd.DataFrame, size: int):
    for i in range(0, len(df), size):
        yield df.iloc[i : i + size]


def test_first_load_inserts_everything_and_keeps_nulls(wh):
    result = wh.load(insights_meta_ads, chunks_of(staging_frame(1000), 300))
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (1000, 1000, 0, 0)
    with wh.transaction() as conn:
        count, null_ctr, null_cpl, spend = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE ctr IS NULL), count(*) FILTER (WHERE cpl IS NULL),"
            " sum(valor_gasto) FROM staging.insights_meta_ads"
        ).fetchone()
    assert count == 1000 and null_ctr == 250 and null_cpl == 1000
    assert float(spend) == pytest.approx(sum(round(i * 0.37, 2) for i in range(1000)))


@pytest.fixture(params=["merge", "insert_on_conflict"])
def merge_form(request, monkeypatch):
    """Both statements the merge can run: MERGE (PostgreSQL 17+, the test server) and the
    anti-join plus INSERT … ON CONFLICT older servers get."""
    if request.param == "insert_on_conflict":
        monkeypatch.setattr(merge_sql, "MERGE_RETURNING_SINCE", 10**9)
    return request.param


def test_same_rows_twice_changes_nothing(wh, merge_form):
    df = staging_frame(500)
    wh.load(insights_meta_ads, [df])
    before = table_snapshot(wh)
    again = wh.load(insights_meta_ads, chunks_of(df, 100))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 500)
    # Unchanged rows are not rewritten: even the audit timestamp stays.
    assert table_snapshot(wh) == before


def test_mixed_changes_are_counted(wh, merge_form):
    wh.load(insights_meta_ads, [staging_frame(100)])
    changed = staging_frame(30, start=0, spend_bump=1.0)  # 30 updated
    same = staging_frame(50, start=30)  # 50 unchanged
    new = staging_frame(20, start=1000)  # 20 inserted
    result = wh.load(insights_meta_ads, [changed, same, new])
    assert (result.inserted, result.updated, result.unchanged) == (20, 30, 50)
    assert wh.row_count(insights_meta_ads) == 120


def test_merging_each_chunk_counts_like_one_merge(wh, merge_form):
    from resources import load as loader
    from resources.warehouse import _table_volatile

    wh.load(insights_meta_ads, [staging_frame(100)])
    batch = [staging_frame(30, spend_bump=1.0), staging_frame(50, start=30), staging_frame(20, start=1000)]
    with wh.transaction() as conn:
        target = loader.describe_table(conn, "staging", "insights_meta_ads", _table_volatile(insights_meta_ads))
        result = loader.load_stream(conn, target, batch, scope={"account_id": "act_1"}, scope_has_rows=True)
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (100, 20, 30, 50)
    assert wh.row_count(insights_meta_ads) == 120
    with wh.transaction() as conn:
        spend = conn.execute(
            "SELECT valor_gasto FROM staging.insights_meta_ads WHERE hash_id = 'h00000003'"
        ).fetchone()[0]
    assert float(spend) == pytest.approx(round(3 * 0.37 + 1.0, 2))


def test_error_after_first_chunk_leaves_table_as_before(wh):
    wh.load(insights_meta_ads, [staging_frame(200)])
    before = table_snapshot(wh)

    def failing_chunks():
        yield staging_frame(100, spend_bump=5.0)
        raise RuntimeError("source connection dropped")

    with pytest.raises(RuntimeError, match="source connection dropped"):
        wh.load(insights_meta_ads, failing_chunks())
    assert table_snapshot(wh) == before


def test_missing_required_column_fails_before_writing(wh):
    df = staging_frame(10).drop(columns=["valor_gasto", "plataforma"])
    with pytest.raises(LoadError, match="plataforma, valor_gasto"):
        wh.load(insights_meta_ads, [df])
    assert wh.row_count(insights_meta_ads) == 0


def test_extra_column_is_dropped_with_a_warning(wh, caplog):
    df = staging_frame(10).assign(post_engagement=5, surprise="x")
    with caplog.at_level(logging.WARNING, logger="vetorial.loader"):
        result = wh.load(insights_meta_ads, [df])
    assert result.inserted == 10
    assert "post_engagement, surprise" in caplog.text


def test_duplicate_keys_in_a_batch_are_a_clear_error(wh):
    df = pd.concat([staging_frame(5), staging_frame(1)])
    with pytest.raises(LoadError, match="same key"):
        wh.load(insights_meta_ads, [df])
    assert wh.row_count(insights_meta_ads) == 0


@pytest.mark.parametrize("stored", [False, True], ids=["new-key-twice", "stored-key-twice"])
def test_duplicate_keys_in_a_merged_batch_are_a_clear_error(wh, merge_form, stored):
    wh.load(insights_meta_ads, [staging_frame(5)])  # not empty: the next batch is merged
    before = table_snapshot(wh)
    start = 0 if stored else 100
    once, again = staging_frame(3, start=start, spend_bump=1.0), staging_frame(1, start=start, spend_bump=2.0)
    with pytest.raises(LoadError, match="same key"):
        wh.load(insights_meta_ads, [once, again])
    assert table_snapshot(wh) == before


def test_replace_scope_removes_rows_that_vanished(wh, merge_form):
    wh.load(insights_meta_ads, [staging_frame(100, account="act_1"), staging_frame(10, start=500, account="act_2")])
    kept = staging_frame(100, account="act_1")
    kept = kept[kept["data"] != date(2025, 1, 3)]  # the API no longer returns that day
    result = wh.load(
        insights_meta_ads, [kept], replace_scope={"account_id": "act_1", "data": (date(2025, 1, 1), date(2025, 1, 5))}
    )
    assert result.deleted == 20 and result.unchanged == 80
    # Other accounts are outside the scope and untouched.
    assert wh.row_count(insights_meta_ads, {"account_id": "act_2"}) == 10
    assert wh.row_count(insights_meta_ads, {"account_id": "act_1"}) == 80


def test_concurrent_loads_of_one_partition_serialize(wh):
    df = staging_frame(2000)
    results, errors = [], []
    inside = threading.Event()

    def slow_chunks():
        inside.set()
        time.sleep(0.5)  # hold the lock while the other load waits
        yield df

    def run(chunks):
        try:
            results.append(wh.load(insights_meta_ads, chunks, lock=("staging/insights_meta_ads", "act_1")))
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    first = threading.Thread(target=run, args=(slow_chunks(),))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=run, args=([df],))
    second.start()
    first.join(30)
    second.join(30)
    assert not errors
    assert sorted(r.inserted for r in results) == [0, 2000]
    assert sorted(r.unchanged for r in results) == [0, 2000]
    assert wh.row_count(insights_meta_ads) == 2000


def test_first_load_into_an_empty_scope_is_a_direct_copy_and_still_atomic(wh):
    wh.load(insights_meta_ads, [staging_frame(10, account="act_2", start=900)])

    def failing_chunks():
        yield staging_frame(100, account="act_1")
        raise RuntimeError("API dropped mid-range")

    scope = {"account_id": "act_1", "data": (date(2025, 1, 1), date(2025, 1, 5))}
    with pytest.raises(RuntimeError, match="mid-range"):
        wh.load(insights_meta_ads, failing_chunks(), replace_scope=scope)
    assert wh.row_count(insights_meta_ads) == 10
    result = wh.load(insights_meta_ads, chunks_of(staging_frame(100, account="act_1"), 30), replace_scope=scope)
    assert (result.inserted, result.updated, result.unchanged, result.deleted) == (100, 0, 0, 0)
    with wh.transaction() as conn:
        spend = conn.execute(
            "SELECT sum(valor_gasto) FROM staging.insights_meta_ads WHERE account_id = 'act_1'"
        ).fetchone()[0]
    assert float(spend) == pytest.approx(sum(round(i * 0.37, 2) for i in range(100)))


def test_direct_copy_reports_a_key_collision_outside_the_scope(wh):
    wh.load(insights_meta_ads, [staging_frame(5, account="act_2")])
    clash = staging_frame(5, account="act_1")  # same hash_ids, another account's (empty) scope
    with pytest.raises(LoadError, match="a key that exists outside the scope"):
        wh.load(insights_meta_ads, [clash], replace_scope={"account_id": "act_1"})
    assert wh.row_count(insights_meta_ads, {"account_id": "act_2"}) == 5


def test_wire_values_are_copied_as_they_are(wh):
    # Bytes in the column type's binary format (what its send function returns, as read
    # undecoded from another PostgreSQL) land as the value they encode: COPYed straight in,
    # and through the stage and merge alike.
    from decimal import Decimal

    from resources import load as loader

    def sent(values):
        with wh.transaction() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT numeric_send(v) FROM unnest(%s::numeric[]) WITH ORDINALITY AS u(v, i) ORDER BY i", (values,)
                )
            ]

    spend = [Decimal(i) / 4 for i in range(20)]
    first = staging_frame(20).assign(valor_gasto=sent(spend))
    changed = first.copy()
    changed["valor_gasto"] = sent([v + 1 if i < 5 else v for i, v in enumerate(spend)])
    with wh.transaction() as conn:
        target = loader.describe_table(conn, "staging", "insights_meta_ads", {"updated_at"})
        scope = {"account_id": "act_1"}
        assert (
            loader.load_stream(conn, target, [first], scope=scope, scope_has_rows=False, wire={"valor_gasto"}).inserted
            == 20
        )
        result = loader.load_stream(conn, target, [changed], scope=scope, scope_has_rows=True, wire={"valor_gasto"})
        stored = [r[0] for r in conn.execute("SELECT valor_gasto FROM staging.insights_meta_ads ORDER BY hash_id")]
    assert (result.inserted, result.updated, result.unchanged) == (0, 5, 15)
    assert stored == [v + 1 if i < 5 else v for i, v in enumerate(spend)]
