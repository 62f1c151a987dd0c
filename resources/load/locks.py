"""Advisory transaction locks: one run at a time per (asset, partition/tenant)."""

from __future__ import annotations

import psycopg


def advisory_xact_lock(
    conn: psycopg.Connection, *parts: str, wait: bool = True, timeout_seconds: float | None = None
) -> None:
    """Serialize work on (asset, partition/tenant) until the caller's transaction ends.

    `timeout_seconds` None waits as long as it takes; 0 (or less) does not wait at all: a
    try-lock (lock_timeout = 0 would mean "no timeout" to PostgreSQL, i.e. wait forever)."""
    key = "/".join(parts)
    if wait and timeout_seconds is not None and timeout_seconds <= 0:
        wait = False
    if wait:
        if timeout_seconds is not None:
            # At least 1 ms: a value that rounds to 0 ms would disable the timeout.
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(timeout_seconds * 1000))}ms",))
        try:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        except psycopg.errors.LockNotAvailable:
            raise LockBusyError(
                f"another run of {key} is already running (waited {timeout_seconds}s); try again when it finishes"
            ) from None
        if timeout_seconds is not None:
            conn.execute("SELECT set_config('lock_timeout', '0', true)")
    else:
        got = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]
        if not got:
            raise LockBusyError(
                f"another run of {key} is already running (not waiting for it); try again when it finishes"
            )


class LockBusyError(RuntimeError):
    """Another run holds the advisory lock for the same asset and partition/tenant."""
