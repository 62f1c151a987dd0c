"""Helpers of the crash and concurrency suites (tests/test_crash_*.py, tests/test_concurrency.py,
tests/test_pull_then_apply.py).

- `Pause`: stops a run's statement at a chosen row of a warehouse table, deterministically: a
  row trigger that, at the Nth row inserted or updated (a sequence counts them), takes an
  advisory lock the test holds, so the run's backend waits there, inside its COPY or merge,
  until the test releases it (after killing the run's process, usually);
- `Reader`: a session that, all through a run, reads what a dashboard would (one statement,
  one snapshot) and keeps every distinct state it saw;
- `TenantRun`: a Chatwoot sync in a process of its own (tests/run_tenant_process.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from psycopg import sql

# The two-int advisory key space (objsubid 2): the project's locks use one bigint key.
PAUSE_KEY = (7011, 1)
WORKER = Path(__file__).with_name("run_tenant_process.py")
# pg_locks is the whole server's (tests run in parallel, a database each): only ours.
THIS_DATABASE = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"


class Pause:
    """Hold the run that writes `table` at its `at_row`-th row (counting inserted or updated rows
    from now on), until `release()`; `and_after`: every later row too, so every run writing the
    table waits at its first row. Remove with `remove()` once the runs' sessions have ended."""

    def __init__(self, db, table: str, at_row: int, and_after: bool = False):
        self.db, self.table = db, table
        schema, name = table.split(".")
        self._table = sql.Identifier(schema, name)
        self._holder = db.connect(autocommit=True)
        self._holder.execute("SELECT pg_advisory_lock(%s, %s)", PAUSE_KEY)
        with db.connect(autocommit=True) as conn:
            conn.execute("CREATE SEQUENCE IF NOT EXISTS public.crash_pause_rows")
            conn.execute("SELECT setval('public.crash_pause_rows', 1, false)")
            conn.execute(
                sql.SQL("""
                CREATE OR REPLACE FUNCTION public.crash_pause() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('public.crash_pause_rows') = TG_ARGV[0]::bigint
                       OR (TG_ARGV[1] = 'and_after' AND currval('public.crash_pause_rows') > TG_ARGV[0]::bigint) THEN
                        PERFORM pg_advisory_xact_lock_shared({}, {});
                    END IF;
                    RETURN NEW;
                END $$""").format(sql.Literal(PAUSE_KEY[0]), sql.Literal(PAUSE_KEY[1]))
            )
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER crash_pause BEFORE INSERT OR UPDATE ON {} FOR EACH ROW "
                    "EXECUTE FUNCTION public.crash_pause({}, {})"
                ).format(self._table, sql.Literal(str(at_row)), sql.Literal("and_after" if and_after else ""))
            )

    def waiting(self) -> int | None:
        """The pid of a backend waiting at the paused row, if one is."""
        waiters = self.waiters()
        return waiters[0] if waiters else None

    def waiters(self) -> list[int]:
        """The pids of the backends waiting at a paused row."""
        with self.db.connect(autocommit=True) as conn:
            return [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                    + THIS_DATABASE
                    + " AND classid = %s AND objid = %s AND objsubid = 2",
                    PAUSE_KEY,
                )
            ]

    def rows_done(self) -> int:
        """Rows the trigger counted so far (the paused one included)."""
        with self.db.connect(autocommit=True) as conn:
            return conn.execute("SELECT last_value FROM public.crash_pause_rows").fetchone()[0]

    def release(self) -> None:
        if not self._holder.closed:
            self._holder.close()  # its session lock goes with it

    def remove(self) -> None:
        self.release()
        with self.db.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS crash_pause ON {}").format(self._table))


class Reader:
    """Reads `statement` (one statement: one snapshot) over and over in a thread of its own until
    stopped; `states` are the distinct results, in the order first seen."""

    def __init__(self, db, statement, params=()):
        self._db, self._statement, self._params = db, statement, params
        self.states: list = []
        self.reads = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        while self.reads == 0 and self._error is None and self._thread.is_alive():
            time.sleep(0.01)  # the state before anything runs is seen
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def read_once(self):
        with self._db.connect(autocommit=True) as conn:
            return tuple(conn.execute(self._statement, self._params or None).fetchone())

    def _run(self) -> None:
        try:
            with self._db.connect(autocommit=True) as conn:
                while not self._stop.is_set():
                    state = tuple(conn.execute(self._statement, self._params or None).fetchone())
                    if state not in self.states:
                        self.states.append(state)
                    self.reads += 1
                    time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test by stop()
            self._error = exc

    def stop(self) -> list:
        self._stop.set()
        self._thread.join(60)
        if self._error is not None:
            raise self._error
        return self.states


def digest(table: str, where: str) -> str:
    """SQL (a scalar subquery): "rows:md5 of every row, in order" of `table`'s rows matching
    `where` (`table` and `where` are the test's constants; values go in as parameters)."""
    return (
        f"(SELECT count(*) || ':' || md5(coalesce(string_agg(CAST(to_jsonb(t) AS text), E'\\n' "
        f"ORDER BY CAST(to_jsonb(t) AS text)), '')) FROM {table} AS t WHERE {where})"
    )


class TenantRun:
    """A Chatwoot sync of one tenant in a process of its own; `result()` is its RESULT line."""

    def __init__(self, tmp_path: Path, tenant: str, config: dict | None = None, env: dict | None = None):
        self._out = tmp_path / f"sync-{tenant}-{time.monotonic_ns()}.out"
        with open(self._out, "w") as out:  # a file, not a pipe: a full pipe would stall the run
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), tenant, json.dumps(config or {})],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )

    def result(self, timeout: float = 180) -> dict:
        self.proc.wait(timeout)
        text = self._out.read_text()
        for line in text.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line.removeprefix("RESULT "))
        raise AssertionError(
            f"the sync process ended without a result (exit code {self.proc.returncode}):\n{text[-3000:]}"
        )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


RANGE_WORKER = Path(__file__).with_name("run_range_process.py")


class RangeRun:
    """A run of a date x account job over one range in a process of its own
    (tests/run_range_process.py); `assets`: the asset keys to run (default: the job's)."""

    def __init__(
        self,
        tmp_path: Path,
        job: str,
        account: str,
        first,
        last,
        run_config: dict | None = None,
        assets: list[str] | None = None,
    ):
        self._out = tmp_path / f"run-{time.monotonic_ns()}.out"
        argv = [sys.executable, str(RANGE_WORKER), job, account, str(first), str(last), json.dumps(run_config or {})]
        if assets:
            argv.append(",".join(assets))
        with open(self._out, "w") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)

    result = TenantRun.result
    kill = TenantRun.kill


def wait_for(condition, what: str, seconds: float = 120):
    """Poll until `condition()` is truthy (a bound against hanging, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def client_sessions(db) -> set[int]:
    """Client sessions of the database other than the asking one."""
    with db.connect(autocommit=True) as conn:
        return {
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
        }


def waiting_on_relation(db, relation: str) -> int | None:
    """The pid of a session waiting for a lock on `relation`, if one is."""
    with db.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE relation = CAST(%s AS regclass) AND NOT granted AND " + THIS_DATABASE,
            (relation,),
        ).fetchone()
    return row[0] if row else None


def project_advisory_locks(db) -> list[tuple]:
    """Advisory locks of the project's (one bigint key), held or awaited, in the database."""
    with db.connect(autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND " + THIS_DATABASE
        ).fetchall()
