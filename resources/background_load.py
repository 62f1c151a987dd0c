"""A Warehouse.load fed chunk by chunk from the caller, running in a thread of its own.

For two tables filled from one stream (Meta: raw payloads and the staging rows cleaned
from them): the second table's COPY is written while the first is still landing, instead
of afterwards, so the server ingests it while the caller waits for the next HTTP page.
Memory stays flat: nothing is kept for later. The load has its own connection and
transaction, and commits only when the caller says `finish()` (e.g. after the first
table committed); `abort()` rolls it back.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

_END, _ABORT = object(), object()


class LoadAborted(Exception):
    """The caller gave up on this load: its transaction is rolled back."""


class BackgroundLoad:
    def __init__(self, load: Callable[[Iterator[Any]], Any], *, depth: int = 2, name: str = "background-load"):
        """`load(chunks)` runs in the thread and returns the load's result (e.g. a partial
        of Warehouse.load with the table, scope and lock)."""
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._result: Any = None
        self._error: BaseException | None = None
        self._told = False  # finish() or abort() reached the thread
        self._thread = threading.Thread(target=self._run, args=(load,), name=name, daemon=True)
        self._thread.start()

    def _chunks(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is _END or item is _ABORT:
                self._told = True
                if item is _ABORT:
                    raise LoadAborted()
                return
            yield item

    def _run(self, load) -> None:
        try:
            self._result = load(self._chunks())
        except BaseException as exc:  # raised in the caller by put() / finish()
            self._error = exc
            while not self._told:  # drain, so a caller blocked in put() goes on, until finish() / abort()
                item = self._queue.get()
                self._told = item is _END or item is _ABORT

    def _hand_over(self, item: Any) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def put(self, chunk: Any) -> None:
        """Queue a chunk (waits while `depth` chunks are pending); raises the load's error."""
        if self._error is not None:
            raise self._error
        self._hand_over(chunk)

    def finish(self) -> Any:
        """No more chunks: the load completes and commits. Its result, or its error raised."""
        self._hand_over(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def abort(self) -> None:
        """Roll the load back (whatever it had written) and wait for its thread to end."""
        self._hand_over(_ABORT)
        self._thread.join()
