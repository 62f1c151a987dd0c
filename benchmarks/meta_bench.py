"""Meta Ads end-to-end benchmark: sandbox Graph API -> raw -> staging, as one backfill.

The real pipeline, run the way a backfill runs it: a single-run backfill of N accounts
launches one run per account (the `meta_ads_refresh` job over the whole date range, with
the partition-range tags the backfill gives it), and the instance's QueuedRunCoordinator
runs up to max_concurrent_runs (4) of them at once, each in its own process (the run
launcher's run worker). Here each run worker is a spawned process that builds the
Definitions from the environment (a tenants file with --accounts ad accounts, a fresh
database on the embedded server, a sandbox Graph API in its own process), waits until
every worker is ready, then executes its run in-process on an ephemeral DagsterInstance.
Timed from the start signal to the end of the last run (process start and imports are
not part of a run's work). Afterwards raw and staging must each hold exactly accounts x
ads x placements x days rows.

Phases are timed in each worker by wrapping the functions production calls (behaviour
unchanged; generators are timed per next()), then summed over the runs:
  http       MetaAdsResource.iter_insights pages as the run receives them: HTTP, the SDK,
             JSON parsing (a reader thread fetches ahead; this is the time the run waits)
  transform  raw_rows (API rows -> raw columns), clean_insights, the staging type check
  read       raw payloads read back for staging (only when staging runs without raw)
  load       the warehouse: spooling (value checks, COPY into the session's temp tables)
             and the apply (one transaction: locks, INSERT ... SELECT or merge, commit);
             Warehouse.load for a staging rebuild
  checks     the staging asset checks (SQL over raw and staging)
  other      the rest: Dagster (run start, one materialization event per partition, logs)
Time is charged to the innermost phase running, so phases never double count. Shares are
phase time / the runs' summed wall time; staging_rps = staging rows / end-to-end wall
time; peak_rss_mb is the largest run worker's. The CPU column is the worker's CPU time in
the phase: wall minus CPU is waiting (for the sandbox, PostgreSQL, the reader thread, or a
core when the machine is busy: report `uptime` with results).

Resource config (run config, the way an operator sets it): the 90-day range is above
`async_threshold_days`, so every account goes through an async report job; the sandbox
finishes a job after --job-polls (2) status polls, and `async_first_poll_seconds` is set
to --first-poll (0.05 s) so the benchmark measures work, not the production default's
0.5 s + 1 s of waiting for a job that is already done. Everything else (page_limit 500,
read-ahead, retries, throttling) is the production default.

Usage: python benchmarks/meta_bench.py [--accounts 3] [--ads 200] [--placements 6] [--days 90]
                                       [--concurrency 4] [--home DIR] [--profile FILE]
Last line (read by tools):
meta rows=N staging_rps=… http_share=… transform_share=… load_share=… peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import multiprocessing as mp
import os
import pstats
import resource
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

PHASES = ("http", "transform", "read", "load")
JOB = "meta_ads_refresh"
TODAY = date(2025, 6, 30)  # fixed: the sandbox's data (and so the run) is the same every time
ACCOUNT_BASE = 900_000_000_000_001


class GcClock:
    """Time spent in the cyclic garbage collector (charged to whichever phase triggered it)."""

    def __init__(self, phases: PhaseClock):
        self.seconds, self.collections, self._start = 0.0, [0, 0, 0], 0.0
        self.by_phase: dict[str, float] = {}
        self._phases = phases

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            spent = time.perf_counter() - self._start
            self.seconds += spent
            self.collections[info["generation"]] += 1
            where = self._phases.current() or "other"
            self.by_phase[where] = self.by_phase.get(where, 0.0) + spent


class PhaseClock:
    """Exclusive time per phase: entering a phase pauses the one it runs inside."""

    def __init__(self):
        self.seconds: dict[str, float] = {}  # by "phase" or "phase:detail"
        self.cpu: dict[str, float] = {}  # this process's CPU time, same keys
        self.calls: dict[str, int] = {}
        self._stack: list[str] = []
        self._since = self._cpu_since = 0.0

    @contextmanager
    def phase(self, name: str):
        if self._stack:
            self._charge(self._stack[-1])
        else:
            self._since, self._cpu_since = time.perf_counter(), time.process_time()
        self._stack.append(name)
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            yield
        finally:
            self._charge(self._stack.pop())

    def current(self) -> str | None:
        return self._stack[-1] if self._stack else None

    def _charge(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._since
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self._cpu_since
        self._since, self._cpu_since = now, cpu

    def total(self, phase: str, of: dict | None = None) -> float:
        of = self.seconds if of is None else of
        return sum(s for name, s in of.items() if name.split(":")[0] == phase)

    def function(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)

        return timed

    def generator_function(self, name: str, fn):
        """fn returns an iterator: time its creation and every next() as `name`."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.phase(name):
                inner = iter(fn(*args, **kwargs))
            return self._timed_iter(name, inner)

        return timed

    def _timed_iter(self, name: str, inner):
        while True:
            with self.phase(name):
                try:
                    item = next(inner)
                except StopIteration:
                    return
            yield item


def instrument(clock: PhaseClock) -> None:
    """Wrap the functions the Meta assets call (module attributes, this process only)."""
    import asset_checks.meta_staging as staging_checks
    from resources.load.spool import Spool, Spooler
    from resources.meta import MetaAdsResource
    from resources.warehouse import Warehouse
    from vetorial_assets.meta import assets

    MetaAdsResource.iter_insights = clock.generator_function("http", MetaAdsResource.iter_insights)
    staging_checks.reconcile = clock.function("checks", staging_checks.reconcile)
    staging_checks.sanity = clock.function("checks", staging_checks.sanity)
    assets.raw_rows = clock.function("transform:raw_rows", assets.raw_rows)
    assets.clean_insights = clock.function("transform:clean_insights", assets.clean_insights)
    assets.typed_staging_frame = clock.function("transform:type_check", assets.typed_staging_frame)
    assets.read_raw_payloads = clock.generator_function("read:fetch", assets.read_raw_payloads)
    assets.parse_payloads = clock.function("read:parse", assets.parse_payloads)
    original_load = Warehouse.load

    @functools.wraps(original_load)
    def load(self, table, *args, **kwargs):
        with clock.phase(f"load:{table.fullname}"):
            return original_load(self, table, *args, **kwargs)

    Warehouse.load = load
    original_write, original_apply = Spool.write, Spooler.apply

    @functools.wraps(original_write)
    def write(self, chunk):
        with clock.phase(f"load:spool {self.target.qualified}"):
            return original_write(self, chunk)

    @functools.wraps(original_apply)
    def apply(self, *args, **kwargs):
        with clock.phase("load:apply"):
            return original_apply(self, *args, **kwargs)

    Spool.write, Spooler.apply = write, apply


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every live PostgreSQL process (server and backends), by pid."""
    out = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            out[proc.pid] = proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return out


def _busy_seconds(before, after) -> float:
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    return sum(after) - sum(before) - idle


def write_tenants(directory: Path, accounts: list[str]) -> Path:
    path = directory / "tenants.yaml"
    lines = ["tenants:", "  - id: bench", "    name: Meta benchmark", "    meta_ad_accounts:"]
    lines += [f"      - {a}" for a in accounts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_backfill(defs, account: str, first: date, last: date, instance, run_config: dict) -> None:
    """One run per account over the whole range: what a single-run backfill launches."""
    from vetorial_assets.partitions import range_tags

    tags = range_tags(account, str(first), str(last))
    result = defs.resolve_job_def(JOB).execute_in_process(instance=instance, tags=tags, run_config=run_config)
    assert result.success, f"{JOB} failed for {account}"


def run_worker(
    account: str, first: date, last: date, first_poll: float, profile: str | None, ready, go, results
) -> None:
    """A run worker (its own process, like the run launcher's): builds the definitions from the
    environment, reports ready, waits for the start signal, runs its account, reports timings."""
    from dagster import DagsterInstance

    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.platform.instance import INSTANCE_LOG_SETTINGS
    from vetorial_assets.settings import load_settings
    from vetorial_assets.tenants import load_tenants

    settings = load_settings()
    defs = build_definitions(settings, load_tenants(settings.tenants_file))
    run_config = {"resources": {"meta": {"config": {"async_first_poll_seconds": first_poll}}}}
    clock = PhaseClock()
    instrument(clock)
    profiler = cProfile.Profile() if profile else None
    # Logging as the deployed instance's dagster.yaml sets it.
    with DagsterInstance.ephemeral(settings=INSTANCE_LOG_SETTINGS) as instance:
        gc_clock = GcClock(clock)
        gc.callbacks.append(gc_clock)
        ready.put(account)
        go.wait()
        start, cpu_start = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        run_backfill(defs, account, first, last, instance, run_config)
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{account}")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        gc.callbacks.remove(gc_clock)
    results.put(
        {
            "account": account,
            "wall": wall,
            "cpu": cpu,
            "seconds": clock.seconds,
            "phase_cpu": clock.cpu,
            "calls": clock.calls,
            "gc_seconds": gc_clock.seconds,
            "gc_collections": gc_clock.collections,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_concurrently(accounts: list[str], first: date, last: date, args) -> tuple[float, list[dict], float, float]:
    """Start one worker process per account, at most --concurrency at a time (the instance's
    QueuedRunCoordinator runs up to max_concurrent_runs at once). Timed from the start signal
    (every worker imported and ready) to the last run's end: (wall, worker reports, machine CPU, PostgreSQL CPU)."""
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    waves = [accounts[i : i + args.concurrency] for i in range(0, len(accounts), args.concurrency)]
    reports, wall, busy, pg = [], 0.0, 0.0, 0.0
    for wave in waves:
        go.clear()
        procs = [
            ctx.Process(target=run_worker, args=(a, first, last, args.first_poll, args.profile, ready, go, results))
            for a in wave
        ]
        for proc in procs:
            proc.start()
        for _ in wave:
            ready.get(timeout=300)
        pg_start, machine_start, start = _postgres_cpu(), psutil.cpu_times(), time.perf_counter()
        go.set()
        for _ in wave:
            reports.append(results.get(timeout=1800))
        wall += time.perf_counter() - start
        busy += _busy_seconds(machine_start, psutil.cpu_times())
        # Read while the workers (and so their backends) are still alive.
        pg += sum(cpu - pg_start.get(pid, 0.0) for pid, cpu in _postgres_cpu().items())
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0, f"a run worker failed (exit code {proc.exitcode})"
    return wall, reports, busy, pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--ads", type=int, default=200)
    parser.add_argument("--placements", type=int, default=6)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="runs at once (the instance's max_concurrent_runs; 1 = one after another)",
    )
    parser.add_argument("--job-polls", type=int, default=2, help="status polls before the sandbox finishes a job")
    parser.add_argument("--first-poll", type=float, default=0.05, help="async_first_poll_seconds")
    parser.add_argument("--home", default=".vetorial-bench")
    parser.add_argument("--profile", help="each run worker writes a cProfile to FILE.<account>")
    args = parser.parse_args()

    from vetorial_assets.platform.embedded import ensure_server
    from vetorial_assets.sandbox.graph_api import spawn

    accounts = [f"act_{ACCOUNT_BASE + i}" for i in range(args.accounts)]
    last = TODAY - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    expected = args.accounts * args.ads * args.placements * args.days

    load_before = os.getloadavg()
    server = ensure_server(Path(args.home), databases=())
    db = f"meta_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    sandbox = spawn(ads_per_account=args.ads, placements=args.placements, today=TODAY, job_polls=args.job_polls)
    try:
        with tempfile.TemporaryDirectory(prefix="meta-bench-") as tmp:
            # Inherited by the run workers, as a run launcher passes the deployment's environment.
            os.environ.update(
                {
                    "VETORIAL_HOME": str(Path(tmp) / "home"),
                    "VETORIAL_WAREHOUSE_URL": server.url(db),
                    "VETORIAL_META_GRAPH_URL": sandbox.url,
                    "META_ACCESS_TOKEN": "EAAbench-dummy-token-0000",
                    "VETORIAL_TENANTS_FILE": str(write_tenants(Path(tmp), accounts)),
                }
            )
            # The warehouse tables exist before the runs, as after any first deployment.
            from resources.warehouse import Warehouse

            Warehouse(url=server.url(db)).ensure_schema()
            sandbox_start = _cpu_seconds(sandbox.proc.pid)
            wall, reports, machine_busy, pg_cpu = run_concurrently(accounts, first, last, args)
            sandbox_cpu = _cpu_seconds(sandbox.proc.pid) - sandbox_start
        with psycopg.connect(server.conninfo(db)) as conn:
            n = conn.execute("SELECT count(*) FROM staging.insights_meta_ads").fetchone()[0]
            raw_n = conn.execute("SELECT count(*) FROM raw.meta_ads_insights").fetchone()[0]
    finally:
        sandbox.stop()
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))

    assert n == expected and raw_n == expected, f"staging {n} / raw {raw_n} rows, expected {expected}"
    # Phases summed over the runs; shares of the runs' summed wall time.
    seconds, cpu, calls = {}, {}, {}
    for r in reports:
        for name, v in r["seconds"].items():
            seconds[name] = seconds.get(name, 0.0) + v
            cpu[name] = cpu.get(name, 0.0) + r["phase_cpu"][name]
            calls[name] = calls.get(name, 0) + r["calls"][name]
    run_wall, run_cpu = sum(r["wall"] for r in reports), sum(r["cpu"] for r in reports)

    def total(phase: str, of: dict) -> float:
        return sum(v for name, v in of.items() if name.split(":")[0] == phase)

    share = {p: total(p, seconds) / run_wall for p in (*PHASES, "checks")}
    other = run_wall - sum(seconds.values())
    peak_rss_mb = max(r["peak_rss_mb"] for r in reports)
    print(
        f"{args.accounts} accounts x {args.ads} ads x {args.placements} placements x {args.days} days "
        f"({first}..{last}): raw {raw_n:,} rows, staging {n:,} rows, {len(reports)} runs, "
        f"{min(args.concurrency, args.accounts)} at a time"
    )
    print(f"end to end      {wall:6.2f}s  {n / wall:,.0f} staging rows/s")
    for r in sorted(reports, key=lambda r: r["account"]):
        print(f"  run {r['account']}  {r['wall']:6.2f}s wall, {r['cpu']:5.2f}s CPU, peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"{'phase':<15} {'wall':>7}  {'share':>6}  {'us/row':>6}  {'cpu':>6}   (summed over the runs)")
    for p in (*PHASES, "checks"):
        print(
            f"  {p:<13} {total(p, seconds):6.2f}s  {share[p]:6.1%}  {total(p, seconds) / n * 1e6:6.1f}  "
            f"{total(p, cpu):5.2f}s"
        )
        for name in sorted(seconds):
            if name.startswith(p + ":"):
                print(
                    f"    {name.split(':', 1)[1]:<25} {seconds[name]:6.2f}s  {'':>14}"
                    f"{cpu[name]:5.2f}s  ({calls[name]} calls)"
                )
    print(
        f"  {'other':<13} {other:6.2f}s  {other / run_wall:6.1%}  {'':>6}  {run_cpu - sum(cpu.values()):5.2f}s"
        "  (Dagster: runs, materialization events, logs)"
    )
    gc_s = sum(r["gc_seconds"] for r in reports)
    print(f"  (gc           {gc_s:7.2f}s  {gc_s / run_wall:6.1%}  within the phases above)")
    cores = psutil.cpu_count()
    print(
        f"machine         {machine_busy:6.2f}s CPU busy of {cores * wall:.2f}s ({cores} cores): run workers "
        f"{run_cpu:.2f}s, sandbox {sandbox_cpu:.2f}s, PostgreSQL {pg_cpu:.2f}s, anything else "
        f"{machine_busy - run_cpu - sandbox_cpu - pg_cpu:.2f}s"
    )
    print(
        f"load avg        {' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after (1, 5, 15 min)"
    )
    if args.profile:
        for r in reports:
            print(f"--- profile of {r['account']}")
            pstats.Stats(f"{args.profile}.{r['account']}").sort_stats("tottime").print_stats(20)
    print(
        f"meta rows={n} staging_rps={n / wall:.0f} http_share={share['http']:.3f} "
        f"transform_share={share['transform']:.3f} load_share={share['load']:.3f} peak_rss_mb={peak_rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
