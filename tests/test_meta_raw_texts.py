"""Raw landing keeps each insights row's JSON text as Graph sent it (no second serialization).

Real SDK over HTTP against the sandbox for the page texts; plain functions for the parser
edge cases and the raw columns; a real PostgreSQL for the streamed COPY.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from resources import load as loader
from resources.meta import MetaAdsResource
from resources.support.gc_control import gc_paused
from vetorial_assets.meta.graph.client import GraphClient, PageRows, loads_page
from vetorial_assets.meta.raw_rows import canonical_json, raw_rows
from vetorial_assets.sandbox.graph_api import SandboxGraphAPI

ACCOUNT = "act_100000000000001"
TODAY = date(2025, 3, 31)
SECRET = "EAAtest-SECRET-token-0123456789abcdef"


@pytest.mark.parametrize(
    "text",
    [
        '{"data":[{"a":1},{"b":[1,{"c":"é"}]}],"paging":{"cursors":{"after":"x"},"next":"http://h/?after=x"}}',
        '{"data":[]}',
        ' { "data" : [ {"a": 1} ,\n {"b":2} ] , "summary": {"n": 2} } ',
        '{"data":[1,"two",null]}',
        '{"data":[{"a":"\\u00e9\\"q\\""}]}',
    ],
)
def test_page_rows_parse_like_json_loads_and_keep_each_row_text(text):
    body = loads_page(text)
    assert body == json.loads(text)
    rows = body["data"]
    assert isinstance(rows, PageRows) and len(rows.texts) == len(rows)
    for row, row_text in zip(rows, rows.texts):
        assert row_text in text and json.loads(row_text) == row


@pytest.mark.parametrize(
    "text",
    [
        '{"error":{"code":190}}',  # not a list response
        '{"paging":{},"data":[{"a":1}]}',  # data not first: plain parse
        '{"data":[{"a":1}],"data":[{"b":2}]}',  # repeated key: json.loads keeps the last
    ],
)
def test_other_documents_parse_plainly(text):
    body = loads_page(text)
    assert body == json.loads(text)
    assert not isinstance(body.get("data"), PageRows)


@pytest.mark.parametrize("text", ['{"data":[{"a":1},]}', '{"data":[{"a":1}]} trailing', '{"data":[{"a":1}'])
def test_malformed_documents_still_raise(text):
    with pytest.raises(ValueError):
        loads_page(text)


def test_insights_pages_from_the_sdk_carry_the_row_texts(monkeypatch):
    monkeypatch.setenv("META_ACCESS_TOKEN", SECRET)
    with SandboxGraphAPI(ads_per_account=3, placements=2, today=TODAY) as api:
        meta = MetaAdsResource(graph_url=api.base_url, page_limit=7, async_first_poll_seconds=0.0)
        pages = list(meta.iter_insights(ACCOUNT, date(2025, 3, 1), date(2025, 3, 4)))
    assert len(pages) == 4  # 24 rows, pages of 7
    for page in pages:
        assert len(page.texts) == len(page)
        assert [json.loads(t) for t in page.texts] == list(page)
        assert all(SECRET not in t for t in page.texts)


def test_a_token_inside_the_data_drops_the_texts_and_redacts_the_rows():
    client = GraphClient("http://127.0.0.1:1", SECRET, api_version="v26.0")
    text = json.dumps({"data": [{"ad_name": f"leaked {SECRET}"}], "paging": {"next": f"x?access_token={SECRET}"}})
    body = client._scrub(loads_page(text), text)
    assert not isinstance(body["data"], PageRows)
    assert SECRET not in json.dumps(body)


def _api_row(day: str = "2025-03-01", name: str = "Anúncio 1") -> dict:
    return {
        "account_id": "100000000000001",
        "ad_id": "1203",
        "ad_name": name,
        "date_start": day,
        "date_stop": day,
        "publisher_platform": "facebook",
        "platform_position": "feed",
        "spend": "1.50",
    }


def test_raw_rows_store_and_hash_the_text_as_sent():
    row = _api_row()
    sent = (
        '{"ad_id":"1203","account_id":"100000000000001","ad_name":"An\\u00fancio 1","date_start":"2025-03-01",'
        '"date_stop":"2025-03-01","publisher_platform":"facebook","platform_position":"feed","spend":"1.50"}'
    )
    assert json.loads(sent) == row
    fetched = datetime(2025, 3, 2, tzinfo=UTC)
    with_text = raw_rows(PageRows([row], [sent]), ACCOUNT, date(2025, 3, 1), date(2025, 3, 1), fetched)
    assert with_text["payload"] == [sent]
    assert with_text["content_hash"] == [hashlib.md5(sent.encode()).hexdigest()]
    # Hand-made rows (no text) are serialized canonically; the JSON value is the same.
    plain = raw_rows([row], ACCOUNT, date(2025, 3, 1), date(2025, 3, 1), fetched)
    assert plain["payload"] == [canonical_json(row)]
    assert json.loads(plain["payload"][0]) == json.loads(with_text["payload"][0])
    for name in ("account_id", "data", "ad_id", "publisher_platform", "platform_position", "fetched_at"):
        assert plain[name] == with_text[name]


def test_gc_paused_restores_the_collector_state():
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_gc_paused_held_by_two_threads_ends_with_the_last():
    import gc
    import threading

    inside, release = threading.Event(), threading.Event()

    def reader():
        with gc_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=reader)
    worker.start()
    inside.wait(5)
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the reader thread still holds it
    release.set()
    worker.join()
    assert gc.isenabled()


# ---- the load path streams chunks through one COPY when the producer leaves the connection alone


def _frames():
    yield pd.DataFrame({"k": ["a", "b"], "v": [1, 2]})
    yield pd.DataFrame({"k": ["c"], "v": [3]})


@pytest.fixture
def kv_table(fresh_db):
    with fresh_db.connect() as conn:
        conn.execute("CREATE SCHEMA s")
        conn.execute("CREATE TABLE s.kv (k text PRIMARY KEY, v bigint NOT NULL)")
        conn.commit()
    return fresh_db


def test_one_copy_for_a_producer_that_does_not_use_the_connection(kv_table):
    with kv_table.connect() as conn:
        target = loader.describe_table(conn, "s", "kv")
        result = loader.load(conn, target, _frames(), replace_scope={"k": ["a", "b", "c"]}, chunks_use_conn=False)
        conn.commit()
        assert (result.inserted, result.rows) == (3, 3)
        assert conn.execute("SELECT k, v FROM s.kv ORDER BY k").fetchall() == [("a", 1), ("b", 2), ("c", 3)]


def test_a_failing_producer_inside_the_one_copy_writes_nothing(kv_table):
    def frames():
        yield pd.DataFrame({"k": ["a"], "v": [1]})
        raise RuntimeError("Graph went away")

    with kv_table.connect() as conn:
        target = loader.describe_table(conn, "s", "kv")
        with pytest.raises(RuntimeError, match="Graph went away"):
            loader.load(conn, target, frames(), chunks_use_conn=False)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM s.kv").fetchone()[0] == 0

    def later_chunk_lacks_v():
        yield pd.DataFrame({"k": ["a"], "v": [1]})
        yield pd.DataFrame({"k": ["b"]})

    with kv_table.connect() as conn:
        target = loader.describe_table(conn, "s", "kv")
        with pytest.raises(loader.LoadError, match="lacks column"):
            loader.load(conn, target, later_chunk_lacks_v(), chunks_use_conn=False)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM s.kv").fetchone()[0] == 0
