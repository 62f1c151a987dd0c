"""read_ahead: order, errors and early stops cross the thread boundary intact."""

from __future__ import annotations

import threading

import pytest

from resources.support.read_ahead import read_ahead


def test_items_come_in_order_from_another_thread():
    threads = set()

    def produce():
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(read_ahead(produce(), depth=2, name="producer")) == list(range(50))
    assert threads == {"producer"}


def test_depth_zero_runs_inline():
    seen = []

    def produce():
        seen.append(threading.current_thread())
        yield 1

    assert list(read_ahead(produce(), depth=0)) == [1]
    assert seen == [threading.current_thread()]


def test_producer_error_is_raised_in_the_consumer_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise LookupError("page 3 failed")

    got = []
    with pytest.raises(LookupError, match="page 3 failed"):
        for item in read_ahead(produce(), depth=1):
            got.append(item)
    assert got == [1, 2]


def test_consumer_stopping_early_stops_and_closes_the_producer():
    produced, closed = [], threading.Event()

    def produce():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = read_ahead(produce(), depth=2)
    assert next(items) == 0
    items.close()  # what a failing consumer's `for` loop does
    assert closed.is_set()  # joined before close() returned
    assert len(produced) <= 4  # never more than depth (+1 in hand, +1 blocked) ahead
