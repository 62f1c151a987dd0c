"""Sandbox Graph API: a local HTTP server the real facebook-business SDK talks to.

Serves deterministic synthetic data (see graph_data.py) on 127.0.0.1 under versioned
paths like Graph (`/v26.0/act_X/insights`): ad account nodes, campaigns / ad sets / ads,
sync and async insights with cursor paging, Instagram `follows_and_unfollows`, the usage
headers, and switchable faults (graph_faults.py). Every request is recorded in
`api.requests` so tests can assert what the SDK sent.

    with SandboxGraphAPI(ads_per_account=4) as api:
        session.GRAPH = api.base_url           # point the SDK at it
        api.faults.add(code=17, times=2, path_contains="insights")

Standalone (the benchmark runs it in its own process to use the second core):
    python -m vetorial_assets.sandbox.graph_api --port 8765 --ads-per-account 200
prints its base URL on the first line of stdout, then serves until SIGTERM / Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from urllib.parse import parse_qsl, urlencode, urlsplit

from .graph_data import GraphData, InsightsShape, page_of_range
from .graph_faults import FaultPlan, UsageState, error_body
from .graph_params import (
    GraphError,
    cursor_for,
    ig_timestamp,
    list_param,
    offset_of,
    parse_insights_query,
    split_path,
)

# The token the sandbox rejects with Graph error 190 (any other non-empty token is accepted).
INVALID_TOKEN = "EAA-sandbox-INVALID-token"
# What clients use in sandbox mode when no token env var is set.
SANDBOX_TOKEN = "EAAsandboxDEMOtoken000"

_IG_ID = re.compile(r"^1784\d{10,}$")
_RUN_ID_START = 9_100_000_000_000_000_001


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the version prefix, e.g. "act_1/insights"
    params: dict  # query + form parameters, access_token removed
    version: str | None = None
    token: str | None = field(default=None, repr=False)


@dataclass
class ReportJob:
    run_id: str
    account_id: str
    since: date
    until: date
    shape: InsightsShape
    polls_needed: int
    fail: bool = False
    polls: int = 0
    created: float = field(default_factory=time.time)


class SandboxGraphAPI:
    """The server, its synthetic world, its faults and its request log."""

    def __init__(
        self,
        ads_per_account: int = 20,
        placements: int = 6,
        today: date | None = None,
        *,
        job_polls: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        invalid_token: str = INVALID_TOKEN,
    ):
        self.data = GraphData(ads_per_account=ads_per_account, placements=placements, today=today)
        self.faults = FaultPlan()
        self.usage = UsageState()
        self.requests: list[RecordedRequest] = []
        self.record_requests = record_requests
        self.job_polls = job_polls
        self.invalid_token = invalid_token
        self.jobs: dict[str, ReportJob] = {}
        self._run_ids = count(_RUN_ID_START)
        self._after = threading.local()  # work to do once the response is sent
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox Graph API is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        if self._server is None:
            self._server = _Server((self._host, self._port), _Handler)
            self._server.api = self
            # A short poll interval: shutdown() waits up to one interval.
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="sandbox-graph-api", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxGraphAPI:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- knobs (delegates, so tests read naturally) ------------------------------------
    @property
    def today(self) -> date:
        return self.data.today

    def restate(self, account_id: str, day: date) -> None:
        self.data.restate(account_id, day)

    def vanish(self, account_id: str, day: date) -> None:
        self.data.vanish(account_id, day)

    def vanish_ads(self, account_id: str, ad_ids, day: date | None = None) -> None:
        self.data.vanish_ads(account_id, ad_ids, day)

    def malform_actions(self, account_id: str, day: date) -> None:
        self.data.malform_actions(account_id, day)

    def tamper(self, account_id: str, day: date, change) -> None:
        self.data.tamper(account_id, day, change)

    def tamper_ig(self, ig_user_id: str, day: date, change) -> None:
        self.data.tamper_ig(ig_user_id, day, change)

    def release_ig_day(self, ig_user_id: str, day: date) -> None:
        self.data.release_ig_day(ig_user_id, day)

    def withhold_ig_day(self, ig_user_id: str, day: date) -> None:
        self.data.withhold_ig_day(ig_user_id, day)

    def requests_to(self, path_contains: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in list(self.requests) if path_contains in r.path and (method is None or r.method == method)]

    # ---- request handling (called by the handler thread) -------------------------------
    def run_after_response(self) -> None:
        """Render the day the next page needs while the client is busy parsing this one.

        Done on the handler thread after the answer is written, not on a helper thread: a
        second CPU-bound thread fights the handler for the GIL and halves throughput.
        """
        task = getattr(self._after, "task", None)
        self._after.task = None
        if task is not None:
            task()

    def handle(self, method: str, raw_path: str, params: dict, token: str | None) -> tuple[int, object, dict]:
        """Returns (status, body, usage-header overrides). body is a dict, or str for bare 5xx pages."""
        version, segments = split_path(raw_path)
        path = "/".join(segments)
        if self.record_requests:
            self.requests.append(RecordedRequest(method, path, dict(params), version, token))
        fault = self.faults.take(method, path)
        if fault is not None:
            fault.wait_if_held()
        self._after.cut = fault.disconnect_after if fault is not None else None
        self._after.malformed = fault is not None and fault.malformed_header
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        regain = {}
        if fault is not None and fault.regain_minutes is not None:
            regain = {"pct": 100, "regain_minutes": fault.regain_minutes}
        if not token:
            return 400, error_body(104), regain
        if token == self.invalid_token:
            return 400, error_body(190), regain
        if fault is not None and fault.is_error:
            return self._fault_answer(fault) + (regain,)
        try:
            return 200, self._route(method, segments, params, token, version), regain
        except GraphError as exc:
            return exc.status, error_body(exc.code, exc.subcode, exc.message), regain

    def take_malformed(self) -> bool:
        """Whether the answer being written gets an unparsable header line."""
        malformed = getattr(self._after, "malformed", False)
        self._after.malformed = False
        return malformed

    def take_cut(self) -> int | None:
        """How many body bytes of the answer being written to send before hanging up (None: all)."""
        cut = getattr(self._after, "cut", None)
        self._after.cut = None
        return cut

    @staticmethod
    def _fault_answer(fault) -> tuple[int, object]:
        if fault.body is not None:
            text = fault.body
            return fault.http_status or 200, _RawJSON(text) if text.lstrip().startswith(("{", "[")) else text
        if fault.code is not None:
            return fault.http_status or 400, error_body(fault.code, fault.subcode, fault.message)
        status = fault.http_status
        if status == 500:  # Graph's 500s carry an error document (code 1 or 2, transient)
            return 500, error_body(1, message=fault.message)
        # Proxies in front of Graph answer 502/503/504 with a bare page, not JSON.
        return status, {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")

    def _route(self, method: str, seg: list[str], params: dict, token: str, version: str | None):
        if not seg:
            raise GraphError(100, message="(#100) Unsupported request")
        node = seg[0]
        edge = seg[1] if len(seg) > 1 else None
        if len(seg) > 2:
            raise GraphError(100, 33, f"Unsupported {method.lower()} request.")
        if node.startswith("act_"):
            if edge is None and method == "GET":
                return self._account_node(node, params)
            if edge in ("campaigns", "adsets", "ads") and method == "GET":
                return self._edge_list(node, edge, params, token, version)
            if edge == "insights" and method == "GET":
                return self._insights(node, params, token, version)
            if edge == "insights" and method == "POST":
                return self._create_job(node, params)
        elif node in self.jobs:
            if edge is None and method == "GET":
                return self._job_status(self.jobs[node])
            if edge == "insights" and method == "GET":
                return self._job_results(self.jobs[node], params, token, version)
        elif _IG_ID.match(node):
            if edge is None and method == "GET":
                return self._ig_node(node, params)
            if edge == "insights" and method == "GET":
                return self._ig_insights(node, params)
        raise GraphError(
            100,
            33,
            (
                f"Unsupported {method.lower()} request. Object with ID '{node}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support "
                "this operation."
            ),
        )

    # ---- ad account ----------------------------------------------------------------------
    def _catalog(self, node: str):
        try:
            return self.data.catalog(node)
        except ValueError:
            raise GraphError(100, 33, f"Unsupported get request. Object with ID '{node}' does not exist.") from None

    def _account_node(self, node: str, params: dict) -> dict:
        full = self._catalog(node).node()
        wanted = list_param(params.get("fields")) or ["account_id"]
        return {"id": full["id"], **{f: full[f] for f in wanted if f in full and f != "id"}}

    def _page_links(
        self, path: str, params: dict, token: str, version: str | None, offset: int, n: int, total: int
    ) -> dict:
        paging: dict = {"cursors": {"before": cursor_for(offset), "after": cursor_for(offset + n)}}
        prefix = f"{self.base_url}/{version + '/' if version else ''}{path}"
        if offset + n < total:
            # Like Meta's, the next link repeats every parameter, the access token included.
            following = {**params, "access_token": token, "after": cursor_for(offset + n)}
            paging["next"] = prefix + "?" + urlencode(following)
        if offset > 0:
            before = {k: v for k, v in params.items() if k != "after"}
            paging["previous"] = (
                prefix + "?" + urlencode({**before, "access_token": token, "before": cursor_for(offset)})
            )
        return paging

    @staticmethod
    def _limit(params: dict, default: int = 25) -> int:
        try:
            limit = int(params.get("limit", default))
        except ValueError:
            raise GraphError(100, message="(#100) limit must be an integer") from None
        return max(1, min(limit, 5000))

    def _edge_list(self, node: str, edge: str, params: dict, token: str, version: str | None) -> dict:
        catalog = self._catalog(node)
        items = {"campaigns": catalog.campaigns, "adsets": catalog.adsets, "ads": catalog.ads}[edge]()
        wanted = list_param(params.get("fields"))
        offset, limit = offset_of(params.get("after")), self._limit(params)
        page = [
            {"id": it["id"], **{f: it[f] for f in wanted if f in it and f != "id"}}
            for it in items[offset : offset + limit]
        ]
        return {
            "data": page,
            "paging": self._page_links(f"{node}/{edge}", params, token, version, offset, len(page), len(items)),
        }

    def _insights_query(self, node: str, params: dict) -> tuple[date, date, InsightsShape]:
        self._catalog(node)
        return parse_insights_query(params, self.today)

    def _insights(self, node: str, params: dict, token: str, version: str | None) -> dict:
        since, until, shape = self._insights_query(node, params)
        return self._insights_page(f"{node}/insights", node, since, until, shape, params, token, version)

    def _insights_page(
        self,
        path: str,
        node: str,
        since: date,
        until: date,
        shape: InsightsShape,
        params: dict,
        token: str,
        version: str | None,
    ) -> _RawJSON:
        offset, limit = offset_of(params.get("after")), self._limit(params)
        page = page_of_range(self.data, node, since, until, shape, offset, limit)
        if page.next_day is not None:
            self._after.task = lambda: self.data.day_rows(node, page.next_day, shape)
        paging = self._page_links(path, params, token, version, offset, len(page.rows), page.total)
        # Rows are pre-rendered JSON text: splice them instead of re-encoding dicts.
        return _RawJSON('{"data":[' + ",".join(page.rows) + '],"paging":' + json.dumps(paging) + "}")

    # ---- async report jobs -----------------------------------------------------------------
    def _create_job(self, node: str, params: dict) -> dict:
        since, until, shape = self._insights_query(node, params)
        run_id = str(next(self._run_ids))
        fail = self.faults.take("POST", f"{node}/insights", async_create=True) is not None
        self.jobs[run_id] = ReportJob(run_id, node, since, until, shape, self.job_polls, fail)
        return {"report_run_id": run_id}

    def _job_status(self, job: ReportJob) -> dict:
        job.polls += 1
        done = job.polls > job.polls_needed
        if done:
            status, pct = ("Job Failed", 50) if job.fail else ("Job Completed", 100)
        elif job.polls == 1:
            status, pct = "Job Not Started", 0
        else:
            status, pct = "Job Running", int(100 * (job.polls - 1) / max(1, job.polls_needed))
        return {
            "id": job.run_id,
            "account_id": job.account_id[4:],
            "time_ref": int(job.created),
            "time_completed": int(time.time()) if status == "Job Completed" else 0,
            "async_status": status,
            "async_percent_completion": pct,
            "date_start": job.since.isoformat(),
            "date_stop": job.until.isoformat(),
        }

    def _job_results(self, job: ReportJob, params: dict, token: str, version: str | None):
        if job.fail:
            raise GraphError(100, message="(#100) The report job failed; results are not available")
        if job.polls <= job.polls_needed:
            raise GraphError(
                100,
                message="(#100) The report is not ready yet: poll the report run until async_status is 'Job Completed'",
            )
        return self._insights_page(
            f"{job.run_id}/insights", job.account_id, job.since, job.until, job.shape, params, token, version
        )

    # ---- Instagram -------------------------------------------------------------------------
    def _ig_node(self, node: str, params: dict) -> dict:
        full = {
            "id": node,
            "username": f"sandbox_ig_{node[-4:]}",
            "name": f"Sandbox IG {node[-4:]}",
            "followers_count": self.data.ig_followers_count(node),
        }
        wanted = list_param(params.get("fields")) or []
        return {"id": node, **{f: full[f] for f in wanted if f in full and f != "id"}}

    def _ig_insights(self, node: str, params: dict) -> dict:
        metrics = list_param(params.get("metric"))
        if metrics != ["follows_and_unfollows"]:
            raise GraphError(
                100,
                message="(#100) metric[0] must be one of the following values: "
                "follows_and_unfollows (the sandbox serves this metric only)",
            )
        if params.get("period") != "day":
            raise GraphError(100, message="(#100) period must be 'day' for follows_and_unfollows")
        if params.get("metric_type") != "total_value":
            raise GraphError(100, message="(#100) follows_and_unfollows requires metric_type=total_value")
        breakdown = params.get("breakdown")
        if breakdown not in (None, "", "follow_type"):
            raise GraphError(100, message="(#100) breakdown must be follow_type for follows_and_unfollows")
        since, until = ig_timestamp(params.get("since"), "since"), ig_timestamp(params.get("until"), "until")
        if until <= since:
            raise GraphError(100, message="(#100) until must be after since")
        if until - since > 30 * 86400:
            raise GraphError(100, message="(#100) The range between since and until must be 30 days or less")
        # Meta returns an empty data set for small accounts and for days not processed yet.
        if self.data.ig_followers_count(node) < 100:
            return {"data": []}
        days = [d for d in self.data.ig_days_in_range(since, until) if self.data.ig_day_available(node, d)]
        if not days:
            return {"data": []}
        follows = unfollows = unknown = 0
        for d in days:
            f, u, k = self.data.ig_movement(node, d)
            follows, unfollows, unknown = follows + f, unfollows + u, unknown + k
        total: dict = {"value": follows + unfollows + unknown}
        if breakdown == "follow_type":
            results = [
                {"dimension_values": ["FOLLOWER"], "value": follows},
                {"dimension_values": ["NON_FOLLOWER"], "value": unfollows},
            ]
            if unknown:
                results.append({"dimension_values": ["UNKNOWN"], "value": unknown})
            total["breakdowns"] = [{"dimension_keys": ["follow_type"], "results": results}]
        answer = {
            "data": [
                {
                    "name": "follows_and_unfollows",
                    "period": "day",
                    "title": "Follows and unfollows",
                    "description": (
                        "The number of accounts that followed you and the number of accounts that "
                        "unfollowed you or left Instagram in the selected time period."
                    ),
                    "total_value": total,
                    "id": f"{node}/insights/follows_and_unfollows/day",
                }
            ]
        }
        change = self.data.ig_tampering(node, days[0]) if len(days) == 1 else None
        return change(answer) if change is not None else answer

    # ---- headers ---------------------------------------------------------------------------
    def usage_headers(self, path: str, override: dict) -> dict[str, str]:
        pct, regain = self.usage.next_values()
        if override:
            pct, regain = override["pct"], override["regain_minutes"]
        node = path.split("/", 1)[0]
        job = self.jobs.get(node)
        owner = job.account_id if job else node
        business = owner[4:] if owner.startswith("act_") else "sandbox"
        buc = {
            business: [
                {
                    "type": "ads_insights",
                    "call_count": pct,
                    "total_cputime": max(1, pct // 2),
                    "total_time": max(1, pct // 2),
                    "estimated_time_to_regain_access": regain,
                    "ads_api_access_tier": "standard_access",
                }
            ]
        }
        return {
            "x-business-use-case-usage": json.dumps(buc),
            "x-ad-account-usage": json.dumps(
                {"acc_id_util_pct": pct, "reset_time_duration": regain * 60, "ads_api_access_tier": "standard_access"}
            ),
            "x-app-usage": json.dumps({"call_count": self.usage.base_pct, "total_cputime": 1, "total_time": 1}),
        }


class _RawJSON(str):
    """A response body that is already JSON text."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64
    api: SandboxGraphAPI

    def handle_error(self, request, client_address) -> None:
        # A client hanging up mid-answer is normal for the timeout tests: no traceback on stderr.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDK's requests.Session reuses connections
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002 - silence per-request logging
        pass

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        api = self.server.api
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8", "replace")
            if "json" in (self.headers.get("Content-Type") or ""):
                try:
                    doc = json.loads(body)
                    params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()})
                except (ValueError, AttributeError):
                    pass
            else:
                params.update(parse_qsl(body, keep_blank_values=True))
        token = params.pop("access_token", None)
        auth = self.headers.get("Authorization") or ""
        if not token and auth.split(" ", 1)[0] in ("OAuth", "Bearer") and " " in auth:
            token = auth.split(" ", 1)[1].strip()
        try:
            status, body, usage = api.handle(method, url.path, params, token)
        except Exception as exc:  # a sandbox bug must look like a Graph 500, not a hung socket
            status, body, usage = 500, error_body(1, message=f"sandbox internal error: {type(exc).__name__}"), {}
        if isinstance(body, _RawJSON):
            payload, ctype = body.encode("utf-8"), "application/json; charset=UTF-8"
        elif isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/html; charset=UTF-8"
        else:
            payload, ctype = json.dumps(body).encode("utf-8"), "application/json; charset=UTF-8"
        self.send_response(status)
        # An explicit charset: without it requests guesses the encoding of the whole body (slow).
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-fb-trace-id", "AsandboxTRACE")
        for name, value in api.usage_headers("/".join(split_path(url.path)[1]), usage).items():
            self.send_header(name, value)
        if api.take_malformed():  # after Content-Length, so the answer still reads whole
            self._headers_buffer.append(b"X-Broken header line without a colon\r\n")
        self.end_headers()
        cut = api.take_cut()
        if cut is not None:  # a page that breaks off mid-body: Content-Length promised more
            try:
                self.wfile.write(payload[:cut])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            self.close_connection = True
            return
        api.run_after_response()


# ---- running it in its own process ---------------------------------------------------------
class SandboxProcess:
    """A sandbox server in a child process (see `spawn`)."""

    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url = proc, url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spawn(
    ads_per_account: int = 20, placements: int = 6, today: date | None = None, job_polls: int = 2, port: int = 0
) -> SandboxProcess:
    """Start `python -m vetorial_assets.sandbox.graph_api` and wait for its URL."""
    cmd = [
        sys.executable,
        "-m",
        "vetorial_assets.sandbox.graph_api",
        "--port",
        str(port),
        "--ads-per-account",
        str(ads_per_account),
        "--placements",
        str(placements),
        "--job-polls",
        str(job_polls),
        "--no-record",
    ]
    if today is not None:
        cmd += ["--today", today.isoformat()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip() if proc.stdout else ""
    if not line.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"sandbox Graph API did not start (exit code {proc.poll()})")
    return SandboxProcess(proc, line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sandbox Graph API (synthetic Meta Ads + Instagram data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ads-per-account", type=int, default=20)
    parser.add_argument("--placements", type=int, default=6)
    parser.add_argument("--today", type=date.fromisoformat, default=None)
    parser.add_argument("--job-polls", type=int, default=2)
    parser.add_argument("--no-record", action="store_true", help="do not keep a log of requests in memory")
    args = parser.parse_args(argv)
    api = SandboxGraphAPI(
        args.ads_per_account,
        args.placements,
        args.today,
        job_polls=args.job_polls,
        host=args.host,
        port=args.port,
        record_requests=not args.no_record,
    )
    api.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(api.base_url, flush=True)
    stop.wait()
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
