"""Run a long-lived child (`dagster dev`) so that Ctrl-C stops it and everything it started.

The child gets its own process group, so a Ctrl-C in the terminal reaches only us and the
child is interrupted exactly once (twice would abort its shutdown midway). On Linux we
become a child subreaper: processes orphaned while it shuts down (code servers, run
workers) are re-parented to us, and whatever of them is still alive after it exited is
terminated. Processes in a session of their own (the embedded server's reaper) are left
alone: other commands may still use that server.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Sequence

import psutil

_PR_SET_CHILD_SUBREAPER = 36
STOP_WAIT_SECONDS = 15


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: leftovers are found through the child's process group only


def _leftovers(group: int) -> list[psutil.Process]:
    """Our descendants in our session (re-parented orphans included) and members of `group`."""
    own_session = os.getsid(0)
    found: dict[int, psutil.Process] = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            if os.getsid(proc.pid) == own_session:
                found[proc.pid] = proc
        except OSError:
            continue
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == group:
                found[proc.pid] = proc
        except OSError:
            continue
    return list(found.values())


def _stop(processes: list[psutil.Process]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in processes:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass
        _, processes = psutil.wait_procs(processes, timeout=STOP_WAIT_SECONDS)
        if not processes:
            return


def run_until_interrupted(cmd: Sequence[str]) -> int:
    """Run `cmd`; SIGINT/SIGTERM are passed to it (as SIGINT) once each. Returns its exit
    code, 0 when it stopped because we asked it to."""
    _become_subreaper()
    asked: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum, _frame):
        asked.append(signum)
        if child is not None:
            try:
                child.send_signal(signal.SIGINT)  # dagster dev shuts its services down on SIGINT
            except ProcessLookupError:
                pass

    # Installed before the child starts: it then gets the default dispositions (a Python
    # handler is not inherited), even where ours were ignored (started with `&` by a script).
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(list(cmd), process_group=0)
        if asked:
            child.send_signal(signal.SIGINT)
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    leftovers = _leftovers(child.pid)
    if leftovers:
        _stop(leftovers)
    if asked and code in (0, -signal.SIGINT, 128 + signal.SIGINT):
        return 0
    return code
