"""Pausing Python's cyclic garbage collector around bulk work.

Parsing a Graph page or cleaning a batch allocates hundreds of thousands of small,
acyclic objects (dicts, lists, strings). Every 700 allocations the collector walks the
young ones, and the survivors (the batch being built) are walked again and again as they
age (docs/design.md, "Measurements behind the code"). Nothing is lost by pausing: a cycle made
meanwhile is collected at the first collection after the pause.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_restore = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the collector off while any thread is inside this block.

    Counted, not toggled: a reader thread and its consumer may each hold it, and the
    collector comes back (if it was on) only when the last of them leaves."""
    global _holders, _restore
    with _lock:
        if _holders == 0:
            _restore = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _restore:
                gc.enable()
