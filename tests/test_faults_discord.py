"""Fault suite, Discord: the alert sensors when Discord is down, failing, rate-limiting or slow.

A real failed run (the Meta asset refused by the sandbox Graph API with a bad token) is in
the instance; the real sensors (`discord_on_run_failure`, `discord_on_recovery`) evaluate it
against a local HTTP receiver on 127.0.0.1 that plays Discord's webhook endpoint. Asserted:
the sensor returns normally whatever Discord does (no exception, so no failed tick; the
run's status is untouched), the receiver got the alert's payload each time it was tried,
the waits the notifier asked for (its sleep hook records them) are what Discord said and
within the alert's budget, and the give-up line names why without the webhook's token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterEventType, DagsterRunStatus, build_run_status_sensor_context

from resources.discord import DiscordNotifier
from tests.conftest import run_range
from tests.fault_helpers import Sleeps, closed_port
from vetorial_assets.alerts.sensors import discord_on_recovery, discord_on_run_failure
from vetorial_assets.meta.schedules import JOB_NAME
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT = "act_100000000000002"
DAY = sandbox_today() - timedelta(days=2)
WEBHOOK_PATH = "/api/webhooks/112233445566778899/fault-SUITE-webhook_token-abcdefghijklmnop"
TOKEN = WEBHOOK_PATH.rsplit("/", 1)[1]


class Receiver:
    """Discord's webhook endpoint, local. `answers`: (status, JSON body, headers, delay seconds)
    per request in order, the last one repeated; every POST is recorded."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.posts: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((self.path, body))
                status, doc, headers, delay = receiver.answers[min(len(receiver.posts), len(receiver.answers)) - 1]
                if delay:
                    time.sleep(delay)  # slower than the notifier waits: it hangs up first
                data = json.dumps(doc).encode() if doc is not None else b""
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{WEBHOOK_PATH}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*answers):
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def failed_run(make_defs, instance, graph_api):
    """A Meta run that failed (bad token), and the definitions it ran from."""
    defs = make_defs()
    graph_api.faults.add(code=190, times=1, path_contains="insights")
    result = run_range(defs, JOB_NAME, "account", ACCOUNT, DAY, DAY, instance, raise_on_error=False)
    assert not result.success
    return defs, instance.get_run_by_id(result.run_id)


def evaluate_failure_sensor(instance, run, notifier):
    record = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records[-1]
    with build_run_status_sensor_context(
        sensor_name="discord_on_run_failure",
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"discord": notifier},
    ) as ctx:
        return discord_on_run_failure(ctx.for_run_failure())


def notifier(url, sleeps, **config) -> DiscordNotifier:
    return DiscordNotifier(webhook_url=url, **{"timeout_seconds": 5.0, **config}).set_sleep(sleeps)


def assert_alert(payload, run):
    embed = payload["embeds"][0]
    assert embed["title"] == f"Run failed: {JOB_NAME}" and embed["color"] == 0xE74C3C
    assert "code 190" in embed["description"] and "renew it" in embed["description"]
    assert {"name": "run id", "value": run.run_id, "inline": True} in embed["fields"]


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def give_up_lines(logs) -> list[str]:
    return [r.getMessage() for r in logs.records if r.getMessage().startswith("Discord alert failed")]


def assert_no_token(logs):
    assert TOKEN not in logs.text
    for record in logs.records:
        assert TOKEN not in record.getMessage()


def test_discord_down_the_sensor_returns_and_the_run_is_untouched(failed_run, instance, logs, capfd):
    _, run = failed_run
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{closed_port()}{WEBHOOK_PATH}"
    assert evaluate_failure_sensor(instance, run, notifier(url, sleeps)) is None
    assert sleeps == [1, 2]  # between the three attempts
    lines = give_up_lines(logs)
    assert lines and "Connection refused" in lines[-1] and "attempt 3 of 3" in lines[-1]
    # The same line through the sensor's own log (context.log: the tick's log in the daemon).
    sensor_log = capfd.readouterr().err
    assert " - dagster - ERROR - Discord alert failed: " in sensor_log and TOKEN not in sensor_log
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    assert_no_token(logs)


def test_discord_answering_500_is_tried_three_times_then_given_up(failed_run, instance, receiver, logs):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver((500, {"message": "500: Internal Server Error", "code": 0}, None, 0))
    assert evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps)) is None
    assert [path for path, _ in discord.posts] == [WEBHOOK_PATH] * 3 and sleeps == [1, 2]
    for _, payload in discord.posts:
        assert_alert(payload, run)
    assert "500 Server Error" in give_up_lines(logs)[-1]
    assert_no_token(logs)


def test_a_429_is_waited_for_as_discord_says_then_delivered(failed_run, instance, receiver, logs):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver(
        (429, {"message": "You are being rate limited.", "retry_after": 2.5, "global": False}, None, 0),
        (204, None, None, 0),
    )
    assert evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps)) is None
    assert sleeps == [2.5] and len(discord.posts) == 2
    assert_alert(discord.posts[-1][1], run)
    assert give_up_lines(logs) == []


def test_a_429_with_only_a_retry_after_header_is_honoured(failed_run, instance, receiver):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver((429, None, {"Retry-After": "4"}, 0), (204, None, None, 0))
    evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps))
    assert sleeps == [4.0] and len(discord.posts) == 2


def test_a_429_longer_than_the_budget_gives_up_at_once(failed_run, instance, receiver, logs):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver(
        (429, {"message": "You are being rate limited.", "retry_after": 3600.0, "global": True}, None, 0)
    )
    assert evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps, budget_seconds=40)) is None
    assert sleeps == [] and len(discord.posts) == 1  # bounded: no hour-long sleep inside a sensor
    assert "HTTP 429 (rate limited for 3600.0s)" in give_up_lines(logs)[-1]
    assert_no_token(logs)


def test_repeated_429s_stop_when_the_budget_is_spent(failed_run, instance, receiver):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver((429, {"retry_after": 15.0}, None, 0))
    evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps, attempts=5, budget_seconds=40))
    assert sleeps == [15.0, 15.0] and len(discord.posts) == 3  # a third wait would pass 40 s
    assert sum(sleeps) <= 40


def test_a_slow_webhook_times_out_and_the_sensor_returns(failed_run, instance, receiver, logs):
    _, run = failed_run
    sleeps = Sleeps()
    discord = receiver((204, None, None, 3.0))  # answers after 3 s; the notifier waits 0.3 s
    assert (
        evaluate_failure_sensor(instance, run, notifier(discord.url, sleeps, timeout_seconds=0.3, attempts=2)) is None
    )
    assert len(discord.posts) == 2 and sleeps == [1]
    assert_alert(discord.posts[0][1], run)
    assert "timed out" in give_up_lines(logs)[-1]
    assert_no_token(logs)


def test_the_recovery_alert_with_discord_down_does_not_fail_the_sensor(failed_run, instance, graph_api, logs):
    defs, _ = failed_run
    ok = run_range(defs, JOB_NAME, "account", ACCOUNT, DAY, DAY, instance)
    run = instance.get_run_by_id(ok.run_id)
    record = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_SUCCESS).records[-1]
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{closed_port()}{WEBHOOK_PATH}"
    with build_run_status_sensor_context(
        sensor_name="discord_on_recovery",
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"discord": notifier(url, sleeps)},
    ) as ctx:
        assert discord_on_recovery(ctx) is None
    assert sleeps == [1, 2] and "Recovered" in give_up_lines(logs)[-1]
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
    assert_no_token(logs)
