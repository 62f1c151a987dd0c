"""Progress of long loads (resources/load/progress.py): lines at a steady pace with rows, rows/s and
what is left; rows/s and duration in the materialization's metadata. The slow test loads 1,000,000
Chatwoot rows through the real job and reads the progress lines' timestamps from the run's events."""

from __future__ import annotations

import logging

import pytest
from dagster import DagsterEventType

from resources.load.progress import Progress, eta_seconds


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_at_the_given_pace_with_total_rate_and_estimate(caplog):
    clock = Clock()
    logger = logging.getLogger("test.progress")
    caplog.set_level(logging.INFO, logger="test.progress")
    progress = Progress("t1 (full)", logger, total=1000, every=5.0, clock=clock)
    chunks = [[{"a": i} for i in range(100)] for _ in range(10)]
    seen = 0
    for _ in progress.track(chunks, len):
        seen += 1
        clock.now += 2.0  # each chunk takes 2 s: a line every third chunk
    lines = [r.getMessage() for r in caplog.records]
    assert seen == 10
    # A chunk counts when the load takes it: at 6 s the fourth one.
    assert lines[0] == "t1 (full): 400 rows of 1,000 (40%), 67 rows/s, 6s elapsed, about 9s left"
    assert len(lines) == 3
    progress.finish()
    assert caplog.records[-1].getMessage() == "t1 (full): 1,000 rows of 1,000 (100%), 50 rows/s, 20s (done)"
    assert progress.metadata() == {"rows_per_second": 50.0, "duration_seconds": 20.0}


def test_eta():
    assert eta_seconds(250, 1000, 10.0) == 30.0
    assert eta_seconds(0, 1000, 10.0) is None and eta_seconds(10, 0, 1.0) is None


CHATWOOT_TENANT = """\
tenants:
  - id: bigco
    name: Big Co
    chatwoot: {account_id: 1, inbox_ids: [14, 15]}
"""
ROWS = 1_000_000
MAX_GAP_SECONDS = 10.0


@pytest.mark.slow
def test_a_million_row_chatwoot_full_load_logs_progress_at_least_every_10_seconds(
    make_db, vetorial_env, monkeypatch, tmp_path, instance
):
    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.sandbox.chatwoot_db import SandboxChatwoot
    from vetorial_assets.settings import load_settings

    source_db = make_db("cw")
    source = SandboxChatwoot(source_db.url)
    # Round robin over inboxes 14, 15 (account 1) and 21 (account 2): 1.5M give account 1 one million.
    source.bulk_seed(ROWS * 3 // 2)
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(CHATWOOT_TENANT)
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", source_db.url)
    monkeypatch.setenv("VETORIAL_TENANTS_FILE", str(tenants))
    defs = build_definitions(load_settings())

    result = defs.resolve_job_def("chatwoot_sync").execute_in_process(instance=instance, partition_key="bigco")
    assert result.success
    records = instance.all_logs(result.run_id)
    step = [
        r
        for r in records
        if r.dagster_event
        and r.dagster_event.event_type == DagsterEventType.STEP_START
        and r.dagster_event.step_key == "raw__conversas_analytics"
    ][0]
    materialized = [
        r for r in records if r.dagster_event and r.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
    ][0]
    progress = [r for r in records if "rows/s" in (r.user_message or "") and r.user_message.startswith("bigco")]
    assert progress[-1].user_message.startswith(f"bigco (full): {ROWS:,} rows of {ROWS:,} (100%)")
    assert len(progress) >= 2  # the load lasts longer than one interval
    stamps = [step.timestamp] + [r.timestamp for r in progress] + [materialized.timestamp]
    gaps = [round(b - a, 1) for a, b in zip(stamps, stamps[1:])]
    # From the step's start to the materialization no stretch without a progress line is
    # longer than 10 s (the count of the source, the load, the commit included).
    assert max(gaps) <= MAX_GAP_SECONDS, gaps
    assert any("left" in r.user_message for r in progress[:-1])
    metadata = materialized.dagster_event.event_specific_data.materialization.metadata
    assert metadata["rows_per_second"].value > 0 and metadata["duration_seconds"].value > 0
