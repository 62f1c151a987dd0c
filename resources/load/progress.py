"""Progress of a long load, logged at a steady pace: rows so far, rows/s, and where the total is
known (a count of the source, a job's percentage) how much is done and an estimate of the rest.

`Progress.track(chunks)` counts the rows of each chunk as the load consumes it (on the loading
thread: the run's logger is not called from another thread) and logs when `every` seconds
have passed since the last line; `finish()` logs the last line and `metadata()` gives the
materialization's `rows_per_second` and `duration_seconds` (the UI plots them over runs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .contract import Chunk

# Seconds between two progress lines of one load.
PROGRESS_EVERY_SECONDS = 5.0

log = logging.getLogger("vetorial.progress")


def eta_seconds(done: float, total: float, elapsed: float) -> float | None:
    """Seconds left at the pace so far; None while nothing is done or there is no total."""
    if not total or done <= 0 or elapsed <= 0:
        return None
    return max(0.0, elapsed * (total - done) / done)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    def __init__(
        self,
        label: str,
        logger: logging.Logger | Any = log,
        *,
        total: int | None = None,
        every: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.logger, self.total, self.every, self.clock = label, logger, total, every, clock
        self.rows = 0
        self.started = clock()
        self.last_line = self.started
        self.finished: float | None = None

    def add(self, rows: int) -> None:
        self.rows += rows
        self.tick()

    def tick(self) -> None:
        """Log a line if `every` seconds passed since the last one."""
        now = self.clock()
        if now - self.last_line >= self.every:
            self.last_line = now
            self.logger.info(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = (now if now is not None else self.clock()) - self.started
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {self.rows:,} rows"
        if self.total:
            text += f" of {self.total:,} ({100 * min(self.rows, self.total) / self.total:.0f}%)"
        text += f", {rate:,.0f} rows/s, {_duration(elapsed)} elapsed"
        eta = eta_seconds(self.rows, self.total or 0, elapsed)
        if eta is not None and self.rows < (self.total or 0):
            text += f", about {_duration(eta)} left"
        return text

    def track(self, chunks: Iterable[Chunk], length: Callable[[Chunk], int]) -> Iterator[Chunk]:
        """`chunks`, counted with `length` (engine.chunk_len) as they are consumed."""
        for chunk in chunks:
            self.add(length(chunk))
            yield chunk

    def finish(self) -> None:
        self.finished = self.clock()
        self.logger.info(self.line(self.finished).replace(" elapsed", " (done)"))

    def stop(self, rows: int) -> None:
        """End a timing whose rows were counted elsewhere (no line logged)."""
        self.rows, self.finished = rows, self.clock()

    def metadata(self) -> dict[str, float]:
        end = self.finished if self.finished is not None else self.clock()
        seconds = max(end - self.started, 1e-9)
        return {"rows_per_second": round(self.rows / seconds, 1), "duration_seconds": round(seconds, 3)}


def combined_metadata(progresses: list[Progress]) -> dict[str, float]:
    """rows_per_second and duration_seconds of several loads one after another (a run's ranges)."""
    rows = sum(p.rows for p in progresses)
    seconds = sum(p.metadata()["duration_seconds"] for p in progresses)
    return {"rows_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0, "duration_seconds": round(seconds, 3)}
