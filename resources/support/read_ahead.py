"""Run a producer in a helper thread, a bounded number of items ahead of its consumer.

For producers that mostly wait (HTTP answers, database fetches): while the consumer
works on item k, the thread is already waiting for item k+1 (without the GIL), so the two
overlap instead of taking turns. Items come out in order; an exception of the producer is
raised in the consumer; a consumer that stops early stops (and closes) the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 1, name: str = "read-ahead") -> Iterator[T]:
    """Yield `items`, produced by a daemon thread at most `depth` items ahead (0: inline)."""
    if depth <= 0:
        yield from items
        return
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                results.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not hand_over((True, item)):
                    return
            hand_over((False, _DONE))
        except BaseException as exc:  # raised in the consumer
            hand_over((False, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # runs the producer's own cleanup in its thread

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, item = results.get()
            if ok:
                yield item
            elif item is _DONE:
                return
            else:
                raise item
    finally:
        stop.set()
        worker.join()
