"""BackgroundLoad against the real warehouse: commits on finish(), rolls back on abort(),
and a failing load surfaces its error in the caller without leaving the thread behind."""

from __future__ import annotations

from functools import partial

import pandas as pd
import pytest
from sqlalchemy import Column, MetaData, Table, Text

from resources.background_load import BackgroundLoad
from resources.loader import LoadError
from resources.warehouse import Warehouse

_metadata = MetaData()
PAIRS = Table("bg_pairs", _metadata, Column("k", Text, primary_key=True), Column("v", Text), schema="public")


@pytest.fixture
def warehouse(fresh_db):
    wh = Warehouse(url=fresh_db.url)
    with wh.engine().begin() as conn:
        _metadata.create_all(conn)
    return wh


def rows(warehouse):
    with warehouse.transaction() as conn:
        return conn.execute("SELECT k, v FROM public.bg_pairs ORDER BY k").fetchall()


def frame(*keys):
    return pd.DataFrame({"k": list(keys), "v": [f"v{k}" for k in keys]})


def test_chunks_put_one_by_one_commit_on_finish(warehouse):
    load = BackgroundLoad(partial(warehouse.load, PAIRS))
    load.put(frame("a", "b"))
    load.put(frame("c"))
    assert rows(warehouse) == []  # nothing visible before finish()
    result = load.finish()
    assert result.inserted == 3
    assert [k for k, _ in rows(warehouse)] == ["a", "b", "c"]


def test_abort_rolls_back_what_was_written(warehouse):
    load = BackgroundLoad(partial(warehouse.load, PAIRS))
    load.put(frame("a"))
    load.put(frame("b"))
    load.abort()
    assert rows(warehouse) == []


def test_a_failing_load_raises_in_the_caller(warehouse):
    load = BackgroundLoad(partial(warehouse.load, PAIRS))
    load.put(frame("a"))
    load.put(frame("a"))  # the same key twice in one batch
    with pytest.raises(LoadError, match="same key"):
        for _ in range(10):  # put() raises once the thread has failed
            load.put(frame("z"))
        load.finish()
    load.abort()  # safe after a failure: the thread is released and ends
    assert not load._thread.is_alive()
    assert rows(warehouse) == []
