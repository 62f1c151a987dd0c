"""Secrets: a Meta token, a Discord webhook and database passwords appear nowhere a run writes.

A deployment as real as the test machine allows: a PostgreSQL server on 127.0.0.1 asking for
passwords (tests/test_doctor.py's `deployment`: the warehouse and the Dagster storage of role
`vetorial`, the Chatwoot database read by `chatwoot_reader`), a Dagster instance on that
storage written by `prepare_environment` (dagster-postgres, local compute logs, Python logs
of urllib3 / the project's loggers captured at DEBUG), the sandbox Graph API reached with a
realistic token, a local Discord webhook endpoint. Then good and failing materializations of
every source asset (Meta insights, Instagram follows, Chatwoot conversations), with retried
Graph errors, a bad token, an unreachable Graph API, a wrong Chatwoot password, each failure
alerted to Discord by the real sensor (Discord answering 500 to some), and recoveries.

Then every place those runs wrote is searched for every form of every secret: each event of
the event log (message, metadata, errors: serialized whole), every row of every table of the
Dagster database (runs, run tags and config, event logs, ticks, ...), every file under the
test's homes (compute logs, dagster.yaml), every row of every table and view of the
warehouse's schemas (raw, staging, model, mart, ops), the Python logging captured at DEBUG,
the process's stdout/stderr, and the payloads Discord received. Zero hits.

The secrets are built at run time: no token-shaped literal sits in the repository.
"""

from __future__ import annotations

import json
import logging
import random
import string
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import psycopg
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, EnvVar, build_run_status_sensor_context
from dagster._serdes import serialize_value

from resources.discord import DiscordNotifier
from resources.meta import MetaAdsResource
from tests.conftest import run_range
from tests.fault_helpers import Sleeps, closed_port, with_resources
from tests.test_doctor import deployment  # noqa: F401  (the fixture: a password-protected server)
from vetorial_assets.alerts.sensors import discord_on_recovery, discord_on_run_failure
from vetorial_assets.chatwoot.schedules import JOB_NAME as CHATWOOT_JOB
from vetorial_assets.instagram.schedules import JOB_NAME as IG_JOB
from vetorial_assets.meta.schedules import JOB_NAME as META_JOB
from vetorial_assets.sandbox.graph_data import sandbox_today

ACCOUNT, IG_ACCOUNT, TENANT = "act_100000000000001", "17841400000000001", "allpfit"
DAY = sandbox_today() - timedelta(days=2)
WAREHOUSE_SCHEMAS = ("raw", "staging", "model", "mart", "ops")
# Loggers whose records Dagster puts in the event log as well (an operator debugging HTTP
# would add urllib3): every line they print must be clean too.
MANAGED_LOGGERS = ["urllib3", "vetorial.discord", "vetorial.source_db", "vetorial.warehouse", "sqlalchemy.pool"]


def _random(alphabet: str, n: int, rng: random.Random) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_token(rng: random.Random) -> str:
    """A long-lived user token's shape: EAA + ~180 letters and digits."""
    return "EAA" + _random(string.ascii_letters + string.digits, 180, rng)


def make_webhook(rng: random.Random) -> tuple[str, str]:
    """(webhook id, webhook token) shaped like Discord's."""
    return _random(string.digits, 19, rng), _random(string.ascii_letters + string.digits + "-_", 68, rng)


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


@pytest.fixture
def discord_endpoint():
    """Discord's webhook endpoint, local; answers `status[0]` and records each POST."""
    posts: list[tuple[str, dict]] = []
    status = [204]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            body = b'{"message": "500: Internal Server Error", "code": 0}' if status[0] >= 400 else b""
            self.send_response(status[0])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts, status
    server.shutdown()
    server.server_close()


@pytest.fixture
def secrets_env(deployment, tmp_path, monkeypatch, graph_api, discord_endpoint):  # noqa: F811
    server, passwords = deployment
    rng = random.Random()
    token = make_token(rng)
    hook_id, hook_token = make_webhook(rng)
    base, posts, status = discord_endpoint
    webhook = f"{base}/api/webhooks/{hook_id}/{hook_token}"
    wrong_password = "wrong-" + _random(string.ascii_letters + string.digits, 16, rng)
    env = {
        "VETORIAL_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "VETORIAL_WAREHOUSE_URL": server.url("warehouse", "vetorial", passwords["vetorial"]),
        "VETORIAL_DAGSTER_STORAGE_URL": server.url("dagster", "vetorial", passwords["vetorial"]).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        ),
        "VETORIAL_CHATWOOT_URL": server.url("chatwoot", "chatwoot_reader", passwords["chatwoot_reader"]),
        "VETORIAL_META_GRAPH_URL": graph_api.base_url,
        "META_ACCESS_TOKEN": token,
        "VETORIAL_DISCORD_WEBHOOK_URL": webhook,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VETORIAL_TENANTS_FILE", raising=False)
    secrets = set()
    for secret in (
        token,
        hook_token,
        f"{hook_id}/{hook_token}",
        f"/api/webhooks/{hook_id}/{hook_token}",
        webhook,
        wrong_password,
        *passwords.values(),
        server.superuser_password,
    ):
        secrets |= forms(secret)
    return {
        "server": server,
        "passwords": passwords,
        "token": token,
        "webhook": webhook,
        "posts": posts,
        "discord_status": status,
        "wrong_password": wrong_password,
        "secrets": secrets,
        "env": env,
    }


@pytest.fixture
def pg_instance(secrets_env):
    """The Dagster instance a deployment gets from `prepare_environment`, with Python logs at DEBUG."""
    from vetorial_assets.platform.instance import prepare_environment
    from vetorial_assets.settings import load_settings

    prepare_environment(load_settings())
    config_path = Path(secrets_env["env"]["DAGSTER_HOME"]) / "dagster.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["python_logs"] = {
        **config.get("python_logs", {}),
        "python_log_level": "DEBUG",
        "managed_python_loggers": MANAGED_LOGGERS,
    }
    config_path.write_text(yaml.safe_dump(config))
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.compute_log_manager).__name__ == "LocalComputeLogManager"
        yield instance


def alert(instance, defs, result) -> None:
    """What the alert sensors do after `result`: red for a failure, green for a recovery."""
    run = instance.get_run_by_id(result.run_id)
    event_type = DagsterEventType.RUN_SUCCESS if result.success else DagsterEventType.RUN_FAILURE
    record = instance.get_records_for_run(run.run_id, of_type=event_type).records[-1]
    sensor = discord_on_recovery if result.success else discord_on_run_failure
    with build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"discord": defs.resources["discord"]},
    ) as ctx:
        sensor(ctx if result.success else ctx.for_run_failure())


def test_no_secret_anywhere_after_good_and_failing_runs_with_alerts(
    secrets_env, pg_instance, graph_api, caplog, capfd, monkeypatch
):
    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.settings import load_settings

    caplog.set_level(logging.DEBUG)
    instance, env = pg_instance, secrets_env
    sleeps = Sleeps()
    defs = with_resources(
        build_definitions(load_settings()),
        meta=MetaAdsResource(graph_url=graph_api.base_url, page_limit=50).set_sleep(sleeps),
        discord=DiscordNotifier(webhook_url=EnvVar("VETORIAL_DISCORD_WEBHOOK_URL")).set_sleep(sleeps),
    )
    unreachable = with_resources(
        defs, meta=MetaAdsResource(graph_url=f"http://127.0.0.1:{closed_port()}", max_retries=1).set_sleep(sleeps)
    )
    results = []

    def meta(d=defs):
        results.append(
            run_range(d, META_JOB, "account", ACCOUNT, DAY - timedelta(days=3), DAY, instance, raise_on_error=False)
        )
        return results[-1]

    def instagram():
        results.append(
            run_range(defs, IG_JOB, "account", IG_ACCOUNT, DAY - timedelta(days=2), DAY, instance, raise_on_error=False)
        )
        return results[-1]

    def chatwoot():
        results.append(
            defs.resolve_job_def(CHATWOOT_JOB).execute_in_process(
                instance=instance, partition_key=TENANT, raise_on_error=False
            )
        )
        return results[-1]

    # Good runs, with a retried error, a throttle pause and a broken page on the way.
    graph_api.faults.add(code=17, times=1, path_contains="insights")
    graph_api.faults.add(disconnect_after=50, times=1, path_contains="insights", skip=1)
    # A page with a header urllib3 cannot parse: it warns, printing the request's URL.
    graph_api.faults.add(malformed_header=True, times=1, path_contains="insights", skip=2)
    graph_api.usage.set(pct=95, regain_minutes=1, times=2)  # the error's and the retry's
    assert meta().success and instagram().success and chatwoot().success
    # Failures, each alerted: a bad token (Meta and Instagram), Graph unreachable (requests'
    # message carries the whole URL, token included), a wrong Chatwoot password; Discord
    # takes the first alerts and answers 500 to the last ones.
    graph_api.faults.add(code=190, times=2, path_contains="insights")
    failed = [meta(), instagram(), meta(unreachable)]
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", env["server"].url("chatwoot", "chatwoot_reader", env["wrong_password"]))
    failed.append(chatwoot())
    assert not any(r.success for r in failed)
    for result in failed[:2]:
        alert(instance, defs, result)
    env["discord_status"][0] = 500
    for result in failed[2:]:
        alert(instance, defs, result)
    # And Discord unreachable: requests' error then carries the webhook's path.
    down = urlsplit(env["webhook"])._replace(netloc=f"127.0.0.1:{closed_port()}").geturl()
    monkeypatch.setenv("VETORIAL_DISCORD_WEBHOOK_URL", down)
    alert(instance, defs, failed[0])
    monkeypatch.setenv("VETORIAL_DISCORD_WEBHOOK_URL", env["webhook"])
    # Recoveries, alerted green (Discord taking them again).
    env["discord_status"][0] = 204
    monkeypatch.setenv("VETORIAL_CHATWOOT_URL", env["env"]["VETORIAL_CHATWOOT_URL"])
    for recovered in (meta(), chatwoot()):
        assert recovered.success
        alert(instance, defs, recovered)

    # The runs really used every secret, and the alerts really went out.
    assert {r.token for r in graph_api.requests} == {env["token"]}
    posts = env["posts"]
    assert len(posts) == 2 + 2 * 3 + 2 and {p for p, _ in posts} == {urlsplit(env["webhook"]).path}
    assert any("password authentication failed" in json.dumps(p) for _, p in posts)

    haystacks = places_runs_write(instance, env, results, caplog, capfd)
    assert haystacks["compute logs"] and "pulling act_100000000000001" in haystacks["compute logs"]
    assert "retry 1/5" in haystacks["event log"] and "pausing" in haystacks["event log"]
    assert "Discord alert failed" in haystacks["python logging"]
    # The texts that carried secrets are there, masked: urllib3's request lines (the token in the
    # query), requests' errors (the whole URL; the webhook's path), the failed connection (the
    # URL's password), psycopg2's DSN of the Dagster storage.
    assert "access_token=***" in haystacks["event log"] and "access_token=***" in haystacks["python logging"]
    assert (
        "Max retries exceeded with url: /v26.0/act_100000000000001/insights?access_token=***" in haystacks["event log"]
    )
    assert "for url: ***" in haystacks["python logging"]  # Discord's 500
    assert "Max retries exceeded with url: ***" in haystacks["python logging"]  # Discord unreachable
    assert "chatwoot_reader:***@127.0.0.1" in haystacks["dagster database"]
    assert "password=xxx" in haystacks["python logging"]
    assert "Failed to parse headers (url=http://127.0.0.1" in haystacks["python logging"]
    leaks = {
        (place, secret[:12] + "…") for place, text in haystacks.items() for secret in env["secrets"] if secret in text
    }
    assert not leaks, f"secrets found in: {sorted(leaks)}"


def places_runs_write(instance, env, results, caplog, capfd) -> dict[str, str]:
    """Everything written while the runs ran, as text, by where it was written."""
    server, passwords = env["server"], env["passwords"]
    out: dict[str, str] = {}
    # The event log, through Dagster's API: every entry serialized whole (message, metadata, errors).
    out["event log"] = "\n".join(serialize_value(entry) for r in results for entry in instance.all_logs(r.run_id))
    out["runs, tags and config"] = "\n".join(serialize_value(run) for run in instance.get_runs())
    # Every table of the Dagster database, as stored.
    out["dagster database"] = dump_database(server, "dagster", "vetorial", passwords["vetorial"], schemas=None)
    # Every file under the homes: compute logs, dagster.yaml, anything else.
    files = [
        p
        for home in (env["env"]["DAGSTER_HOME"], env["env"]["VETORIAL_HOME"])
        for p in Path(home).rglob("*")
        if p.is_file()
    ]
    compute = [p for p in files if p.suffix in (".out", ".err", ".complete") or "compute_logs" in str(p)]
    out["compute logs"] = "\n".join(p.read_text(errors="replace") for p in compute)
    out["files"] = "\n".join(p.read_text(errors="replace") for p in files)
    out["warehouse"] = dump_database(server, "warehouse", "vetorial", passwords["vetorial"], schemas=WAREHOUSE_SCHEMAS)
    out["python logging"] = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [caplog.text]
        + [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    )
    captured = capfd.readouterr()
    out["stdout/stderr"] = captured.out + captured.err
    out["discord payloads"] = json.dumps([payload for _, payload in env["posts"]])
    return out


def dump_database(server, database: str, user: str, password: str, schemas) -> str:
    """Every row of every table and view (of `schemas`, or every non-system schema) as text."""
    parts = []
    with psycopg.connect(host="127.0.0.1", port=server.port, user=user, password=password, dbname=database) as conn:
        relations = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND (%(schemas)s::text[] IS NULL OR table_schema = ANY(%(schemas)s::text[]))"
            " ORDER BY 1, 2",
            {"schemas": list(schemas) if schemas else None},
        ).fetchall()
        assert relations, f"no tables in {database}"
        for schema, name in relations:
            rows = conn.execute(
                psycopg.sql.SQL("SELECT t::text FROM {} t").format(psycopg.sql.Identifier(schema, name))
            ).fetchall()
            parts.append(f"-- {schema}.{name}\n" + "\n".join(r[0] for r in rows))
    if schemas:
        dumped = {p.split("\n", 1)[0][3:].split(".")[0] for p in parts}
        assert {"raw", "staging", "ops"} <= dumped
    return "\n".join(parts)
