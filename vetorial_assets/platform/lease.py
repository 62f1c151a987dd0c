"""Who uses the embedded server: the lease file `$VETORIAL_HOME/pg.lease.json`.

It records the processes using the server (pid and start time, so a reused pid is not
taken for a live user), whether `vetorial up` pinned it, the postmaster pid one of our
processes started (a server found running with another pid was not started by us and is
left as found), and the reaper watching it. Read and written only under the home's file
lock (vetorial_assets.platform.embedded).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import psutil

LEASE_FILE = "pg.lease.json"
# /proc start times are exact to a clock tick; the JSON round trip keeps them.
_START_TOLERANCE = 0.05


@dataclass(frozen=True)
class Proc:
    """A process by pid and start time: a pid reused by an unrelated process is not this one."""

    pid: int
    started: float

    @classmethod
    def current(cls) -> Proc:
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return (
                abs(process.create_time() - self.started) < _START_TOLERANCE
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


@dataclass
class Lease:
    started_pid: int | None = None  # postmaster pid started by one of our processes
    pinned: bool = False  # `vetorial up`: keep running until `vetorial down`
    users: list[Proc] = field(default_factory=list)
    reaper: Proc | None = None

    def live_users(self) -> list[Proc]:
        return [user for user in self.users if user.alive()]

    def prune(self) -> None:
        """Forget users that ended without leaving (SIGKILL, os._exit)."""
        self.users = self.live_users()

    def join(self, proc: Proc) -> None:
        if proc not in self.users:
            self.users.append(proc)

    def leave(self, proc: Proc) -> None:
        self.users = [user for user in self.users if user != proc]

    def reaper_alive(self) -> bool:
        return self.reaper is not None and self.reaper.alive()


def lease_path(home: Path) -> Path:
    return Path(home) / LEASE_FILE


def read_lease(home: Path) -> Lease:
    path = lease_path(home)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Lease()
    except (OSError, ValueError):
        return Lease()  # unreadable: nobody is known to use the server
    reaper = raw.get("reaper")
    return Lease(
        started_pid=raw.get("started_pid"),
        pinned=bool(raw.get("pinned")),
        users=[Proc(int(pid), float(started)) for pid, started in raw.get("users", [])],
        reaper=Proc(int(reaper[0]), float(reaper[1])) if reaper else None,
    )


def write_lease(home: Path, lease: Lease) -> None:
    path = lease_path(home)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(
        json.dumps(
            {
                "started_pid": lease.started_pid,
                "pinned": lease.pinned,
                "users": [[user.pid, user.started] for user in lease.users],
                "reaper": [lease.reaper.pid, lease.reaper.started] if lease.reaper else None,
            }
        ),
        encoding="utf-8",
    )
    tmp.replace(path)  # atomic: a reader never sees half a file
