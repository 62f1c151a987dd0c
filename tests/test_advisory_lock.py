"""advisory_xact_lock: a busy (asset, partition) lock waits as configured, and 0 means do not wait."""

from __future__ import annotations

import psycopg
import pytest

from resources.load import LockBusyError, advisory_xact_lock

KEY = ("raw/conversas_analytics", "allpfit")


@pytest.fixture
def holder(fresh_db):
    """Another run: a transaction holding the lock until the test ends."""
    with fresh_db.connect() as conn:
        advisory_xact_lock(conn, *KEY)
        yield conn
        conn.rollback()


def waiter(db) -> psycopg.Connection:
    conn = db.connect()
    # A guard, not an assertion: were the lock to wait forever, this statement would be
    # cancelled after a minute and the test fail with QueryCanceled instead of hanging.
    conn.execute("SET statement_timeout = '60s'")
    return conn


def test_zero_seconds_does_not_wait_and_says_already_running(fresh_db, holder):
    with waiter(fresh_db) as conn:
        with pytest.raises(LockBusyError) as err:
            advisory_xact_lock(conn, *KEY, timeout_seconds=0)
        assert str(err.value) == (
            "another run of raw/conversas_analytics/allpfit is already running "
            "(not waiting for it); try again when it finishes"
        )
        # The transaction is still usable (a try-lock leaves no error behind).
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_short_wait_times_out_with_the_same_message(fresh_db, holder):
    with waiter(fresh_db) as conn:
        with pytest.raises(LockBusyError, match=r"is already running \(waited 0.2s\)"):
            advisory_xact_lock(conn, *KEY, timeout_seconds=0.2)
        conn.rollback()
        # A sub-millisecond wait still waits (1 ms), never "no timeout".
        with pytest.raises(LockBusyError, match=r"is already running \(waited 0.0001s\)"):
            advisory_xact_lock(conn, *KEY, timeout_seconds=0.0001)


def test_a_free_lock_is_taken_at_once_and_released_with_the_transaction(fresh_db):
    with fresh_db.connect() as first, fresh_db.connect() as second:
        advisory_xact_lock(first, *KEY, timeout_seconds=0)
        with pytest.raises(LockBusyError):
            advisory_xact_lock(second, *KEY, timeout_seconds=0)
        second.rollback()
        first.commit()
        advisory_xact_lock(second, *KEY, timeout_seconds=0)
        # lock_timeout is back to the session's own after the wait.
        advisory_xact_lock(second, "other", timeout_seconds=5)
        assert second.execute("SHOW lock_timeout").fetchone() == ("0",)
