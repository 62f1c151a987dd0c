"""README "Operating with the Dagster CLI": every command there, run verbatim as an operator
runs it (repo root, PATH=/usr/bin:/bin, only DAGSTER_HOME exported) on a fresh home whose
embedded server is stopped, with real outcomes checked in the warehouse and the instance."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import psycopg
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
    run,
    wait_until,
)

SECTION = "## Operating with the Dagster CLI"
LONG_RUNNING = ("dagster-daemon run", "dagster dev")


def readme_commands() -> tuple[list[str], list[str]]:
    """(one-shot commands, long-running commands) of the README section, setup block excluded."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    commands = [line.strip() for block in blocks[1:] for line in block.splitlines() if line.startswith(".venv/bin/")]
    one_shot = [c for c in commands if not any(word in c for word in LONG_RUNNING)]
    return one_shot, [c for c in commands if any(word in c for word in LONG_RUNNING)]


def as_run_here(command: str) -> str:
    """The README's `.venv/bin/` is the venv running these tests."""
    return command.replace(".venv/bin/", f"{BIN}/", 1)


def prepared_home(home: Path, first: str) -> tuple[Path, dict[str, str]]:
    """A fresh home prepared by `vetorial <first>`, its server stopped; the operator's env."""
    result = run([str(BIN / "vetorial"), first], clean_env(VETORIAL_HOME=str(home)))
    assert result.returncode == 0, result.stdout
    if first == "up":
        result = run([str(BIN / "vetorial"), "down"], clean_env(VETORIAL_HOME=str(home)))
        assert result.returncode == 0 and "stopped" in result.stdout, result.stdout
    assert nothing_left(home), f"`vetorial {first}` left a server running"
    return home, clean_env(DAGSTER_HOME=str(home / "dagster_home"))


def test_readme_lists_each_operation():
    one_shot, long_running = readme_commands()
    joined = "\n".join(one_shot)
    assert '--partition "act_100000000000001|2025-06-02"' in joined  # one Meta partition
    assert "--select raw/conversas_analytics --partition allpfit" in joined  # one Chatwoot tenant
    assert "dagster asset materialize" in joined and "dg launch" in joined and "--partition-range" in joined
    assert '"full_refresh": true' in joined
    assert "--select staging/insights_meta_ads --partition-range" in joined  # checks re-run
    assert any("dg check defs" in c for c in one_shot)
    assert [c.split()[0] for c in long_running] == [".venv/bin/dagster-daemon", ".venv/bin/dagster"]


def test_readme_commands_after_doctor_with_only_dagster_home(home_dir):
    home, env = prepared_home(home_dir, "doctor")
    one_shot, _ = readme_commands()
    for command in one_shot:
        result = run(as_run_here(command), env)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}"
        assert "Traceback" not in result.stdout, result.stdout[-3000:]
        assert nothing_left(home), f"a server is left running after: {command}"

    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    from vetorial_assets.platform.embedded import WAREHOUSE_DB, embedded_server

    with embedded_server(home) as server:
        with psycopg.connect(server.conninfo(WAREHOUSE_DB)) as conn:
            days = dict(
                conn.execute(
                    "SELECT account_id, array_agg(DISTINCT data ORDER BY data)::text[] FROM staging.insights_meta_ads "
                    "GROUP BY account_id"
                ).fetchall()
            )
            raw_rows = conn.execute("SELECT count(*) FROM raw.meta_ads_insights").fetchone()[0]
            staging_rows = conn.execute("SELECT count(*) FROM staging.insights_meta_ads").fetchone()[0]
            audits = conn.execute(
                "SELECT tenant_id, load_type, status, rows_extracted, rows_unchanged FROM ops.etl_control ORDER BY id"
            ).fetchall()
            tenants = dict(
                conn.execute("SELECT tenant_id, count(*) FROM raw.conversas_analytics GROUP BY 1").fetchall()
            )
        with DagsterInstance.from_config(str(home / "dagster_home")) as instance:
            runs = instance.get_runs()
            last = runs[0]
            evaluations = instance.all_logs(last.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            materialized = instance.all_logs(last.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    assert nothing_left(home)

    assert days["act_100000000000001"] == ["2025-06-02"]
    assert days["act_100000000000002"] == [f"2025-06-0{d}" for d in range(1, 4)]  # dg launch range
    assert days["act_100000000000003"] == [f"2025-06-0{d}" for d in range(1, 8)]  # one-run backfill
    assert raw_rows == staging_rows > 0
    # The tenant's first sync, then the full refresh: every row re-read (none changed).
    (first, refresh) = audits
    assert first[:3] == ("allpfit", "full", "success") and first[3] == tenants["allpfit"] > 0
    assert refresh == ("allpfit", "full", "success", tenants["allpfit"], tenants["allpfit"])
    assert (
        sum(
            r.run_config.get("ops", {}).get("raw__conversas_analytics", {}).get("config", {}) == {"full_refresh": True}
            for r in runs
        )
        == 1
    )
    materializing = [c for c in one_shot if "materialize" in c or "launch" in c]
    assert len(runs) == len(materializing) and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    # The checks re-run: staging only, rebuilt from raw (no raw materialization), its checks passed.
    assert {e.dagster_event.asset_key.to_user_string() for e in materialized} == {"staging/insights_meta_ads"}
    results = {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed for e in evaluations
    }
    assert {"reconciles_with_raw", "lead_origins_add_up"} <= set(results) and all(results.values()), results


@pytest.mark.parametrize("command_index", [0, 1], ids=["dagster-daemon run", "dagster dev"])
def test_readme_long_running_commands_stop_on_ctrl_c(home_dir, tmp_path, command_index):
    home, env = prepared_home(home_dir, "up")  # up, then down: the server is stopped
    command = readme_commands()[1][command_index]
    port = free_port()
    argv = shlex.split(as_run_here(command), comments=True)
    if "dagster dev" in command:
        argv += ["-p", str(port)]
        ready = lambda: http_ok(f"http://127.0.0.1:{port}/server_info")  # noqa: E731
    else:
        ready = lambda: "SensorDaemon" in service.output()  # noqa: E731
    service = Service(argv, env, tmp_path / "service.log")
    try:
        assert wait_until(ready, timeout=120, interval=0.5), service.output()[-3000:]
        assert postmasters(home), "the Dagster service did not start the embedded server"
        code = service.interrupt()
        output = service.output()
        assert code == 0, output[-3000:]
        # A terminal's Ctrl-C reaches every process of the group at once; the daemon may then
        # log a traceback of its own (a sensor tick cut off by the code server going first:
        # Dagster's, which `vetorial dev` avoids). None may come from our storage or lease.
        assert f'File "{REPO}/resources/' not in output, output[-3000:]
    finally:
        service.close()
    assert nothing_left(home), "the server the service started is still running"
