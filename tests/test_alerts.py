"""Discord alerts: a failed run posts a red embed, its recovery a green one, to a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterEventType, build_run_status_sensor_context

from tests.conftest import FAKE_TOKEN, run_range
from vetorial_assets.alerts.sensors import discord_on_recovery, discord_on_run_failure
from vetorial_assets.meta.schedules import JOB_NAME
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000002"


@pytest.fixture
def webhook(monkeypatch):
    """A local stand-in for Discord's webhook endpoint that records what it receives."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/123/secret-webhook-token"
    monkeypatch.setenv("VETORIAL_DISCORD_WEBHOOK_URL", url)
    yield received
    server.shutdown()


def _event(instance, run_id, event_type):
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return records[-1].event_log_entry.dagster_event


def test_failure_then_recovery_post_red_then_green(make_defs, instance, graph_api, webhook):
    defs = make_defs()
    day = sandbox_today() - timedelta(days=2)
    graph_api.faults.add(code=190, times=1, path_contains="insights")
    failed = run_range(defs, JOB_NAME, "account", ACCOUNT, day, day, instance, raise_on_error=False)
    assert not failed.success
    resources = {"discord": defs.resources["discord"]}
    run = instance.get_run_by_id(failed.run_id)
    with build_run_status_sensor_context(
        sensor_name="discord_on_run_failure",
        dagster_event=_event(instance, run.run_id, DagsterEventType.RUN_FAILURE),
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    ) as ctx:
        discord_on_run_failure(ctx.for_run_failure())
    ((path, payload),) = webhook
    embed = payload["embeds"][0]
    assert path == "/api/webhooks/123/secret-webhook-token"
    assert embed["color"] == 0xE74C3C and JOB_NAME in embed["title"]
    assert "190" in embed["description"] or "token" in embed["description"].lower()
    assert FAKE_TOKEN not in json.dumps(payload)

    ok = run_range(defs, JOB_NAME, "account", ACCOUNT, day, day, instance)
    run = instance.get_run_by_id(ok.run_id)
    with build_run_status_sensor_context(
        sensor_name="discord_on_recovery",
        dagster_event=_event(instance, run.run_id, DagsterEventType.RUN_SUCCESS),
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    ) as ctx:
        discord_on_recovery(ctx)
    assert len(webhook) == 2 and webhook[1][1]["embeds"][0]["color"] == 0x2ECC71
    # A second success in a row is not a recovery: nothing more is posted.
    again = run_range(defs, JOB_NAME, "account", ACCOUNT, day, day, instance)
    run = instance.get_run_by_id(again.run_id)
    with build_run_status_sensor_context(
        sensor_name="discord_on_recovery",
        dagster_event=_event(instance, run.run_id, DagsterEventType.RUN_SUCCESS),
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    ) as ctx:
        discord_on_recovery(ctx)
    assert len(webhook) == 2
