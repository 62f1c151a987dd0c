"""`vetorial doctor` on a real deployment's URLs, every one given through its environment variable.

A second PostgreSQL server (TCP on 127.0.0.1, password authentication) plays the deployment's
database server: the warehouse and Dagster storage of a `vetorial` role, and a Chatwoot
database read through the documented read-only role. The Graph API is the sandbox over HTTP,
the Discord webhook a local HTTP endpoint. doctor resolves each resource's EnvVar fields the
way Dagster does (issue 10 defect 2: it used to read the variable's *name* as the URL), warns
(without failing) when the Chatwoot role can write, and prints no password or token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from psycopg import sql

from tests.conftest import FAKE_TOKEN, REPO
from tests.second_server import second_server
from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME, SandboxChatwoot

WEBHOOK_PATH = "/api/webhooks/998877665544332211/doctor-WEBHOOK-token_abcdefghijklmnop"


@pytest.fixture(scope="module")
def deployment():
    """The second server, with the databases and roles of a real deployment."""
    home = Path(os.environ.get("VETORIAL_TEST_HOME") or REPO / ".vetorial-test")
    home.mkdir(parents=True, exist_ok=True)
    with second_server(home) as server:
        passwords = {
            role: f"{role}-pw-{uuid.uuid4().hex[:10]}:@" for role in ("vetorial", "chatwoot_reader", "chatwoot_writer")
        }
        with server.connect(autocommit=True) as conn:
            for role, password in passwords.items():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
                )
            conn.execute("CREATE DATABASE warehouse OWNER vetorial")
            conn.execute("CREATE DATABASE dagster OWNER vetorial")
            conn.execute("CREATE DATABASE chatwoot")
        chatwoot = SandboxChatwoot(server.url("chatwoot"))
        chatwoot.create()
        chatwoot.seed(conversations_per_inbox=10)
        with server.connect("chatwoot", autocommit=True) as conn:
            # The read-only role of docs/reliability.md ...
            conn.execute("ALTER ROLE chatwoot_reader SET default_transaction_read_only = on")
            conn.execute("GRANT USAGE ON SCHEMA public TO chatwoot_reader, chatwoot_writer")
            conn.execute(
                sql.SQL("GRANT SELECT ON {} TO chatwoot_reader, chatwoot_writer").format(sql.Identifier(VIEW_NAME))
            )
            # ... and one that was given more than it needs.
            conn.execute("GRANT INSERT, UPDATE ON conversations TO chatwoot_writer")
        yield server, passwords


@pytest.fixture
def webhook():
    """Discord's webhook endpoint, local: GET describes the webhook (as Discord does), POST posts."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(("GET", self.path))
            body = json.dumps({"id": "998877665544332211", "token": WEBHOOK_PATH.rsplit("/", 1)[1]}).encode()
            self.send_response(200 if self.path == WEBHOOK_PATH else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            seen.append(("POST", self.path))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}", seen
    server.shutdown()
    server.server_close()


def doctor(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VETORIAL_", "DAGSTER_", "META_"))}
    return subprocess.run(
        [sys.executable, "-m", "vetorial_assets.cli", "doctor"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, "VETORIAL_HOME": str(tmp_path / "home"), **env},
    )


def real_env(server, passwords, graph_api, webhook_url, chatwoot_role="chatwoot_reader") -> dict[str, str]:
    return {
        "VETORIAL_WAREHOUSE_URL": server.url("warehouse", "vetorial", passwords["vetorial"]),
        "VETORIAL_DAGSTER_STORAGE_URL": server.url("dagster", "vetorial", passwords["vetorial"]).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        ),
        "VETORIAL_CHATWOOT_URL": server.url("chatwoot", chatwoot_role, passwords[chatwoot_role]),
        "VETORIAL_META_GRAPH_URL": graph_api.base_url,
        "META_ACCESS_TOKEN": FAKE_TOKEN,
        "VETORIAL_DISCORD_WEBHOOK_URL": webhook_url,
    }


def lines(result) -> dict[str, str]:
    """check name -> its report line."""
    out = {}
    for line in result.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] in ("ok", "WARN", "FAIL"):
            out[parts[1].split(":", 1)[0]] = line.strip()
    return out


def assert_no_secret(result, env: dict[str, str], passwords: dict[str, str]) -> None:
    text = result.stdout + result.stderr
    for secret in [
        *passwords.values(),
        FAKE_TOKEN,
        WEBHOOK_PATH,
        WEBHOOK_PATH.rsplit("/", 1)[1],
        env["VETORIAL_DISCORD_WEBHOOK_URL"],
        env["VETORIAL_CHATWOOT_URL"],
        env["VETORIAL_WAREHOUSE_URL"],
        env["VETORIAL_DAGSTER_STORAGE_URL"],
    ]:
        assert secret not in text


def test_doctor_passes_on_real_urls_given_by_env_vars(deployment, tmp_path, graph_api, webhook):
    server, passwords = deployment
    webhook_url, seen = webhook
    env = real_env(server, passwords, graph_api, webhook_url)
    result = doctor(tmp_path, env)
    report = lines(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all checks passed")
    port = server.port
    assert report["warehouse"].startswith(
        f"ok    warehouse: postgresql+psycopg://vetorial:***@127.0.0.1:{port}/warehouse"
    )
    assert (
        report["dagster storage"]
        == f"ok    dagster storage: postgresql+psycopg2://vetorial:***@127.0.0.1:{port}/dagster"
    )
    assert report["chatwoot source schema"].startswith(
        f"ok    chatwoot source schema: {VIEW_NAME} at postgresql+psycopg://chatwoot_reader:***@127.0.0.1:{port}"
        "/chatwoot has all 21 columns"
    )
    assert report["chatwoot source role"] == (
        "ok    chatwoot source role: role 'chatwoot_reader' cannot write to the relation or the tables it reads"
    )
    assert report["graph api"].startswith("ok    graph api: act_100000000000001 ")
    assert report["discord webhook"] == "ok    discord webhook: Discord knows the webhook (HTTP 200)"
    assert seen == [("GET", WEBHOOK_PATH)]  # asked about, never posted to
    assert graph_api.requests_to("act_100000000000001")  # the Graph API at the given URL was asked
    assert_no_secret(result, env, passwords)
    # The warehouse on the second server got its schemas; no embedded server was started.
    with server.connect("warehouse") as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert {"raw", "staging", "ops"} <= schemas
    assert not (tmp_path / "home" / "pg").exists()


@pytest.mark.parametrize(
    "role, how",
    [
        ("chatwoot_writer", "(INSERT/UPDATE on conversations)"),
        ("postgres", "(it is a superuser);"),
    ],
)
def test_doctor_warns_when_the_chatwoot_role_can_write(deployment, tmp_path, graph_api, webhook, role, how):
    server, passwords = deployment
    passwords = {**passwords, "postgres": server.superuser_password}
    env = real_env(server, passwords, graph_api, webhook[0], chatwoot_role=role)
    result = doctor(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not a failure
    line = lines(result)["chatwoot source role"]
    assert line.startswith(f"WARN  chatwoot source role: role '{role}' can write to the Chatwoot database {how}")
    assert line.endswith('see docs/reliability.md, "Chatwoot source: read-only role"')
    assert result.stdout.rstrip().endswith("all checks passed (1 warning(s))")
    assert_no_secret(result, env, passwords)


def test_doctor_reports_an_unreachable_source_without_its_password(deployment, tmp_path, graph_api, webhook):
    server, passwords = deployment
    env = real_env(server, passwords, graph_api, webhook[0])
    env["VETORIAL_CHATWOOT_URL"] = "postgresql://nobody:wrong-password-xyz@127.0.0.1:1/chatwoot"
    result = doctor(tmp_path, env)
    assert result.returncode == 1
    line = lines(result)["chatwoot source schema"]
    assert line.startswith(
        "FAIL  chatwoot source schema: SourceConnectionError: cannot connect to the Chatwoot "
        "database postgresql+psycopg://nobody:***@127.0.0.1:1/chatwoot"
    )
    assert "wrong-password-xyz" not in result.stdout + result.stderr
