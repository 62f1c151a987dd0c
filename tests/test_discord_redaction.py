"""A failing Discord alert never writes the webhook's secret (its path: /api/webhooks/<id>/<token>).

requests' errors carry the URL's path without the host ("Max retries exceeded with url:
/api/webhooks/<id>/<token>"), and urllib3 logs every request line at DEBUG: the token must be
in none of them, whether Discord is unreachable or answers 500 or 429.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from resources.discord import RED, Alert, DiscordNotifier
from resources.support.redaction import redact

WEBHOOK_ID = "1234567890123456789"
WEBHOOK_TOKEN = "Xy9-wEbHoOk_t0ken-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdefghij"
SECRET_FORMS = (WEBHOOK_TOKEN, f"{WEBHOOK_ID}/{WEBHOOK_TOKEN}")
ALERT = Alert(title="Run failed: meta_ads_refresh", description="boom", color=RED)


def webhook_path() -> str:
    return f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def answering():
    """A local HTTP server answering every POST with the status given, recording the paths."""
    servers = []

    def start(status: int, body: dict | None = None):
        seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                seen.append(self.path)
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}{webhook_path()}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def captured_text(caplog) -> str:
    """Every captured record as a handler would write it: message and traceback."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def assert_no_secret(text: str) -> None:
    for secret in SECRET_FORMS:
        assert secret not in text


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    return caplog


def test_unreachable_webhook_fails_without_the_token(all_logs):
    url = f"http://127.0.0.1:{closed_port()}{webhook_path()}"
    assert DiscordNotifier(webhook_url=url, attempts=2, timeout_seconds=5).send(ALERT) is False
    text = captured_text(all_logs)
    assert "Discord alert failed" in text and "Max retries exceeded" in text  # the message that carried the path
    assert_no_secret(text)
    # The exception itself, as any caller would print it, redacted the same way.
    with pytest.raises(requests.ConnectionError) as err:
        requests.post(url, json={}, timeout=5)
    assert webhook_path() in str(err.value)  # what requests puts in it...
    assert_no_secret(redact(err.value))  # ...and what we let out


@pytest.mark.parametrize("status, body", [(500, {"message": "oops"}), (429, {"retry_after": 0.01})])
def test_a_webhook_answering_an_error_fails_without_the_token(all_logs, answering, status, body):
    url, seen = answering(status, body)
    assert DiscordNotifier(webhook_url=url, attempts=2, timeout_seconds=5).send(ALERT) is False
    assert seen == [webhook_path()] * 2  # the real endpoint was asked, with the real path
    text = captured_text(all_logs)
    assert f"{status} Server Error" in text or f"Discord answered HTTP {status}" in text
    # urllib3 logged each request line; the filter masked its path.
    request_lines = [
        r.getMessage() for r in all_logs.records if r.name == "urllib3.connectionpool" and '"POST ' in r.getMessage()
    ]
    assert len(request_lines) == 2 and all('"POST *** HTTP/1.1"' in line for line in request_lines)
    assert_no_secret(text)


def test_a_delivered_alert_still_posts_to_the_real_path(all_logs, answering):
    url, seen = answering(204)
    assert DiscordNotifier(webhook_url=url).send(ALERT) is True
    assert seen == [webhook_path()]
    assert_no_secret(captured_text(all_logs))
