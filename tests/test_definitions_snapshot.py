"""Every definition of the code location, compared to a committed snapshot.

A move or a refactor cannot silently drop (or add) an asset, a partition definition, a
check, a job, a schedule, a sensor or a freshness policy: the listing below must equal
tests/snapshots/definitions.json. A deliberate change regenerates it:

    VETORIAL_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions_snapshot.py

and the diff of the JSON file is reviewed with the change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from dagster import (
    DailyPartitionsDefinition,
    Definitions,
    MultiPartitionsDefinition,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.json"
UPDATE_VARIABLE = "VETORIAL_UPDATE_SNAPSHOT"


def _partitions(partitions_def: PartitionsDefinition | None) -> dict | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, MultiPartitionsDefinition):
        return {
            "type": "multi",
            "dimensions": {d.name: _partitions(d.partitions_def) for d in partitions_def.partitions_defs},
        }
    if isinstance(partitions_def, StaticPartitionsDefinition):
        return {"type": "static", "keys": list(partitions_def.get_partition_keys())}
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        return {
            "type": "daily" if isinstance(partitions_def, DailyPartitionsDefinition) else "time_window",
            "cron": partitions_def.cron_schedule,
            "start": partitions_def.start.isoformat(),
            "timezone": partitions_def.timezone,
            "end_offset": partitions_def.end_offset,
        }
    return {"type": type(partitions_def).__name__}


def _freshness(policy) -> dict | None:
    if policy is None:
        return None
    described = {"type": type(policy).__name__}
    for name in ("fail_window", "warn_window"):
        window = getattr(policy, name, None)
        if window is not None:
            described[name] = str(window.to_timedelta() if hasattr(window, "to_timedelta") else window)
    return described


def listing(defs: Definitions) -> dict:
    """What the UI shows of the code location, as plain JSON (sorted, stable)."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        assets_def = defs.resolve_assets_def(spec.key)
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "partitions": _partitions(assets_def.partitions_def),
            "backfill_policy": str(assets_def.backfill_policy) if assets_def.backfill_policy else None,
            "freshness": _freshness(spec.freshness_policy),
            "table": spec.metadata.get("dagster/table_name"),
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        spec = graph.get_check_spec(key)
        checks[key.to_user_string()] = {"blocking": spec.blocking}
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "partitions": _partitions(job.partitions_def),
        }
    schedules = {}
    for schedule in sorted(defs.schedules or [], key=lambda s: s.name):
        schedules[schedule.name] = {
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "default_status": schedule.default_status.value,
            "job": schedule.job_name,
        }
    sensors = {}
    for sensor in sorted(defs.sensors or [], key=lambda s: s.name):
        sensors[sensor.name] = {"default_status": sensor.default_status.value}
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": sorted((defs.resources or {}).keys()),
    }


@pytest.fixture
def shipped_defs(monkeypatch, tmp_path):
    """The Definitions of the shipped demo tenants with every default setting."""
    for name in (
        "VETORIAL_TENANTS_FILE",
        "VETORIAL_PARTITIONS_START",
        "VETORIAL_SCHEDULES",
        "VETORIAL_META_LOOKBACK_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.settings import load_settings

    return build_definitions(load_settings())


def test_definitions_match_the_snapshot(shipped_defs):
    current = listing(shipped_defs)
    if os.environ.get(UPDATE_VARIABLE) == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        f"the definitions differ from {SNAPSHOT.name}; if the change is deliberate, "
        f"regenerate it with {UPDATE_VARIABLE}=1 and review the diff"
    )


def test_snapshot_lists_every_kind_of_definition():
    # The snapshot itself is not empty of any kind: a listing bug cannot make the test vacuous.
    expected = json.loads(SNAPSHOT.read_text())
    for kind in ("assets", "checks", "jobs", "schedules", "sensors"):
        assert expected[kind], kind
    assert any(a["freshness"] for a in expected["assets"].values())
    assert any(a["partitions"] for a in expected["assets"].values())


def _readme_assets() -> dict[str, dict[str, str]]:
    """README's "Assets" table: asset key -> {column: cell} (a row may name several assets)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Assets\n", 1)[1].split("\n\n| ", 1)[1]
    lines = ("| " + section).split("\n\n", 1)[0].splitlines()  # the section's first table
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        for asset in re.findall(r"`([^`]+)`", cells["asset key"]):
            assert asset not in rows, f"README lists {asset} twice"
            rows[asset] = cells
    return rows


def test_the_readme_assets_table_lists_every_asset_its_group_table_and_runs():
    expected = json.loads(SNAPSHOT.read_text())
    rows = _readme_assets()
    assert sorted(rows) == sorted(expected["assets"])
    for asset, described in expected["assets"].items():
        row = rows[asset]
        assert row["group"] == f"`{described['group']}`", asset
        schema, name = described["table"].split(".")
        tables = re.findall(r"`([^`]+)`", row["table"])
        assert described["table"] in tables or f".{name}" in tables, asset
        assert (row["partitions"] == "—") == (described["partitions"] is None), asset
        for named in re.findall(r"`([^`]+)`", row["runs by"]):
            if named in expected["schedules"]:
                named = expected["schedules"][named]["job"]
            if named in expected["jobs"]:
                assert asset in expected["jobs"][named]["assets"], (asset, named)
            else:  # a sensor, an asset of the same step or the CLI command
                assert named in expected["sensors"] or named in expected["assets"] or named.startswith("vetorial "), (
                    asset,
                    named,
                )
