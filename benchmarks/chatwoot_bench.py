"""Chatwoot sync benchmark: the real Dagster job over an N-conversation sandbox source.

Measured in one run, on the same server, so the ratios compare like with like:
  source COPY  the extraction limit: `COPY (SELECT * FROM vw_conversations_analytics_final) TO
               STDOUT` of the same source through psycopg, bytes consumed and discarded
  full         the `chatwoot_sync` job for every tenant, from an empty warehouse: extract,
               transform, load, etl_control, materialization
  incremental  1% of the conversations touched (updated_at moved later), then the job again for
               every tenant; checked against ops.etl_control: exactly the touched rows updated,
               nothing inserted, only the overlap window's re-reads counted as unchanged. Run in
               steady state: the warehouse table VACUUM ANALYZEd first (untimed), as autovacuum
               does within a minute of a bulk load (--cold: right after the full load instead)
  --phases     (optional, after the above) the same tenants streamed from the source alone, then
               streamed and transformed: what the load step costs is the remainder

Runs go the way the deployment runs them: the sensor (or the daily schedule, or a backfill)
requests one run per tenant at once, and the instance's QueuedRunCoordinator runs up to
max_concurrent_runs (4) of them together, each in its own run worker process. Here each
tenant has a spawned worker process that builds the Definitions from the environment and
keeps one Dagster instance (ephemeral: the storage backend is not what is measured) for its
runs, full then incremental, each executed in-process. A phase is timed from the start
signal to the end of its last run (process start and imports are not a run's work);
--concurrency 1 runs the tenants one after another. peak_rss_mb is the largest worker's.

The sandbox's bulk seed spreads conversations round robin over inboxes 14, 15 (account 1) and
21 (account 2); a Chatwoot tenant is one account, so two tenants cover them all and the job
runs once per tenant (N = rows actually loaded).

Usage: python benchmarks/chatwoot_bench.py --rows 1000000 [--home DIR] [--chunk ROWS] [--concurrency 4]
                                           [--phases] [--cold]
Last line (read by tools):
chatwoot rows=N full_rps=… source_copy_rps=… vs_source_copy=… incr_s=… incr_vs_full=… peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from vetorial_assets.platform.embedded import ensure_server

TENANTS_YAML = """\
tenants:
  - id: allpfit
    name: AllpFit
    chatwoot: {account_id: 1, inbox_ids: [14, 15]}
  - id: lacrei
    name: Lacrei Saude
    chatwoot: {account_id: 2, inbox_ids: [21]}
"""
TENANTS = {"allpfit": (1, (14, 15)), "lacrei": (2, (21,))}
VIEW = "vw_conversations_analytics_final"
OP = "raw__conversas_analytics"
TOUCH_EVERY = 100  # 1%


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_copy(conninfo: str) -> tuple[float, int, int]:
    """Seconds, rows and bytes of a plain COPY of the whole view (the extraction limit)."""
    size = 0
    with psycopg.connect(conninfo) as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        with cur.copy(sql.SQL("COPY (SELECT * FROM {}) TO STDOUT").format(sql.Identifier(VIEW))) as copy:
            for block in copy:
                size += len(block)  # consumed and discarded
        return time.perf_counter() - start, cur.rowcount, size


def run_job(defs, instance, tenant: str, chunk: int | None) -> None:
    config = {"chunk_rows": chunk} if chunk else {}
    run_config = {
        "ops": {OP: {"config": config}},
        # The bench reads its numbers from ops.etl_control: keep Dagster's console quiet.
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    result = defs.resolve_job_def("chatwoot_sync").execute_in_process(
        instance=instance, partition_key=tenant, run_config=run_config
    )
    assert result.success, f"chatwoot_sync failed for {tenant}"


def tenant_worker(tenant: str, chunk: int | None, commands, replies) -> None:
    """A run worker for one tenant (its own process, as the run launcher gives each run): builds
    the definitions from the environment, reports ready, then runs the job once per command."""
    from dagster import DagsterInstance

    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.platform.instance import INSTANCE_LOG_SETTINGS
    from vetorial_assets.settings import load_settings

    defs = build_definitions(load_settings())
    # One instance for the tenant's runs, as a deployment has (its creation is not a run's cost).
    with DagsterInstance.ephemeral(settings=INSTANCE_LOG_SETTINGS) as instance:
        replies.put((tenant, "ready", 0.0))
        for _ in iter(commands.get, None):
            start = time.perf_counter()
            try:
                run_job(defs, instance, tenant, chunk)
            except BaseException as exc:
                replies.put((tenant, "failed", f"{type(exc).__name__}: {exc}"))
                raise
            replies.put((tenant, "done", time.perf_counter() - start))
    replies.put((tenant, "peak_rss_mb", peak_rss_mb()))


class RunWorkers:
    """One spawned worker process per tenant; `run_all` runs every tenant's job, at most
    `concurrency` at once, timed from the start signal to the last run's end."""

    def __init__(self, tenants: list[str], chunk: int | None, concurrency: int):
        ctx = mp.get_context("spawn")
        self.replies = ctx.Queue()
        self.commands = {t: ctx.Queue() for t in tenants}
        self.procs = [
            ctx.Process(target=tenant_worker, args=(t, chunk, self.commands[t], self.replies)) for t in tenants
        ]
        self.waves = [tenants[i : i + concurrency] for i in range(0, len(tenants), concurrency)]
        for proc in self.procs:
            proc.start()
        for _ in tenants:
            self._reply("ready")

    def _reply(self, kind: str):
        tenant, got, value = self.replies.get(timeout=1800)
        if got != kind:
            raise RuntimeError(f"run worker {tenant}: {value if got == 'failed' else got}")
        return value

    def run_all(self) -> float:
        start = time.perf_counter()
        for wave in self.waves:
            for tenant in wave:
                self.commands[tenant].put("run")
            for _ in wave:
                self._reply("done")
        return time.perf_counter() - start

    def __enter__(self) -> RunWorkers:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:  # after close() they have exited; after a failure, stop them
            proc.kill()
            proc.join()

    def close(self) -> float:
        """Stop the workers; the largest one's peak RSS (MB)."""
        for queue in self.commands.values():
            queue.put(None)
        peak = max(self._reply("peak_rss_mb") for _ in self.procs)
        for proc in self.procs:
            proc.join()
            assert proc.exitcode == 0, f"a run worker failed (exit code {proc.exitcode})"
        return peak


def control_rows(conninfo: str, load_type: str) -> dict[str, tuple]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT tenant_id, status, rows_extracted, rows_inserted, rows_updated, rows_unchanged, rows_deleted,"
            " watermark_end, duration_seconds FROM ops.etl_control WHERE load_type = %s ORDER BY id",
            (load_type,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def source_count_since(conninfo: str, account: int, inboxes: tuple[int, ...], since) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE account_id = %s AND inbox_id = ANY(%s) AND conversation_updated_at > %s"
            ).format(sql.Identifier(VIEW)),
            (account, list(inboxes), since),
        ).fetchone()[0]


def phases(source_url: str, warehouse_conninfo: str, chunk: int | None) -> tuple[float, float]:
    """Seconds to stream every tenant from the source as the asset does (unordered, same
    chunks, the same columns read undecoded, no transform), and seconds spent inside
    to_raw_frame on a second pass."""
    from resources.source_db import SourceDatabase
    from resources.support.gc_control import gc_paused
    from vetorial_assets.chatwoot.assets import ChatwootSyncConfig, compare_types, target_table, wire_columns
    from vetorial_assets.chatwoot.transform import SOURCE_COLUMNS, to_raw_frame

    chunk_rows = chunk or ChatwootSyncConfig().chunk_rows
    source = SourceDatabase(url=source_url)
    with psycopg.connect(warehouse_conninfo) as conn:
        wire = wire_columns(compare_types(source.describe(), target_table(conn)), conn)
    extract_s = transform_s = 0.0
    for transform in (False, True):
        start = time.perf_counter()
        with gc_paused():
            for tenant, (account, inboxes) in TENANTS.items():
                for rows in source.stream(
                    SOURCE_COLUMNS, account, list(inboxes), None, chunk_rows=chunk_rows, ordered=False, wire=wire
                ):
                    if transform:
                        started = time.perf_counter()
                        to_raw_frame(rows, SOURCE_COLUMNS, tenant)
                        transform_s += time.perf_counter() - started
        if not transform:
            extract_s = time.perf_counter() - start
    source.dispose()
    return extract_s, transform_s


def touch_one_percent(source) -> dict[str, int]:
    """Move every 100th conversation (by id) one hour past the newest source row; returns
    how many each tenant got. Ids stay in SQL: a million of them in Python would count in
    the peak RSS being measured."""
    with source.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM conversations) s "
                "WHERE rn %% %s = 1",
                (TOUCH_EVERY,),
            )
        ]
        per_tenant = {
            tenant: conn.execute(
                "SELECT count(*) FROM conversations WHERE id = ANY(%s) AND account_id = %s AND inbox_id = ANY(%s)",
                (ids, account, list(inboxes)),
            ).fetchone()[0]
            for tenant, (account, inboxes) in TENANTS.items()
        }
    source.touch(ids, at=source.now() + timedelta(hours=1))
    assert sum(per_tenant.values()) == len(ids)
    return per_tenant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=None, help="chunk_rows of the job (default: the asset's)")
    parser.add_argument("--home", default=".vetorial-bench")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="runs at once (the instance's max_concurrent_runs; 1 = one after another)",
    )
    parser.add_argument("--phases", action="store_true", help="also time extract and transform alone")
    parser.add_argument(
        "--cold", action="store_true", help="run the incremental right after the full load (no VACUUM ANALYZE between)"
    )
    args = parser.parse_args()

    server = ensure_server(Path(args.home), databases=())
    suffix = uuid.uuid4().hex[:8]
    src_db, wh_db = f"chatwoot_bench_src_{suffix}", f"chatwoot_bench_wh_{suffix}"
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        for db in (src_db, wh_db):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    stack = ExitStack()
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="chatwoot_bench_"))
    try:
        from vetorial_assets.sandbox.chatwoot_db import SandboxChatwoot

        source = SandboxChatwoot(server.url(src_db))
        start = time.perf_counter()
        seeded = source.bulk_seed(args.rows)
        seed_s = time.perf_counter() - start
        print(f"seeded {seeded:,} conversations in {seed_s:.1f}s")

        tenants_file = Path(tmp) / "tenants.yaml"
        tenants_file.write_text(TENANTS_YAML, encoding="utf-8")
        os.environ.update(
            {
                "VETORIAL_HOME": str(Path(tmp) / "home"),
                "VETORIAL_WAREHOUSE_URL": server.url(wh_db),
                "VETORIAL_CHATWOOT_URL": server.url(src_db),
                "VETORIAL_TENANTS_FILE": str(tenants_file),
            }
        )
        src_info, wh_info = server.conninfo(src_db), server.conninfo(wh_db)
        copy_s, copy_rows, copy_bytes = source_copy(src_info)
        assert copy_rows == seeded, (copy_rows, seeded)

        workers = stack.enter_context(RunWorkers(list(TENANTS), args.chunk, args.concurrency))
        full_s = workers.run_all()
        full = control_rows(wh_info, "full")
        n = sum(r[2] for r in full.values())
        assert set(full) == set(TENANTS) and all(r[0] == "success" for r in full.values()), full
        assert n == seeded and sum(r[1] for r in full.values()) == n, full
        with psycopg.connect(wh_info) as conn:
            assert conn.execute("SELECT count(*) FROM raw.conversas_analytics").fetchone()[0] == n

        vacuum_s = None
        if not args.cold:
            # Steady state for the incremental run: autovacuum visits a freshly bulk-loaded
            # table within a minute (insert-triggered), setting statistics and the visibility
            # map. Untimed; --cold runs the incremental right after the full load instead.
            with psycopg.connect(wh_info, autocommit=True) as conn:
                start = time.perf_counter()
                conn.execute("VACUUM (ANALYZE) raw.conversas_analytics")
                vacuum_s = time.perf_counter() - start
        touched = touch_one_percent(source)
        overlap = timedelta(minutes=15)  # ChatwootSyncConfig.overlap_minutes default
        expected = {}  # extracted, inserted, updated, unchanged
        for tenant, (account, inboxes) in TENANTS.items():
            re_read = source_count_since(src_info, account, inboxes, full[tenant][6] - overlap)
            expected[tenant] = (re_read, 0, touched[tenant], re_read - touched[tenant])

        incr_s = workers.run_all()
        rss = workers.close()
        incr = control_rows(wh_info, "incremental")
        for tenant, want in expected.items():
            got = incr[tenant]
            assert got[0] == "success" and got[1:5] == want, (tenant, got, want)

        extract_s = transform_s = None
        if args.phases:
            extract_s, transform_s = phases(server.url(src_db), wh_info, args.chunk)
    finally:
        stack.close()
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            for db in (src_db, wh_db):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))

    full_rps, copy_rps = n / full_s, n / copy_s
    print(f"source COPY     {copy_s:7.2f}s  {copy_rps:10,.0f} rows/s  ({copy_bytes / 2**20:,.0f} MB of text)")
    for tenant, r in full.items():
        print(f"full {tenant:10} {r[7]:7.2f}s  {r[2]:,} inserted (etl_control duration)")
    print(f"full load       {full_s:7.2f}s  {full_rps:10,.0f} rows/s  (jobs end to end, {args.concurrency} at once)")
    if extract_s is not None:
        # The job overlaps these (the source computes the next chunk while one is transformed
        # and loaded): they do not add up to the full load.
        print(f"  extract       {extract_s:7.2f}s  {n / extract_s:10,.0f} rows/s  (SourceDatabase.stream alone)")
        print(f"  transform     {transform_s:7.2f}s  {n / transform_s:10,.0f} rows/s  (inside to_raw_frame)")
    if vacuum_s is not None:
        print(f"VACUUM ANALYZE  {vacuum_s:7.2f}s  (warehouse table, untimed: what autovacuum does after the load)")
    for tenant, r in incr.items():
        print(f"incr {tenant:10} {r[7]:7.2f}s  extracted {r[1]:,}, updated {r[3]:,}, unchanged {r[4]:,}")
    print(f"incremental     {incr_s:7.2f}s  ({sum(touched.values()):,} touched, {incr_s / full_s:.1%} of full)")
    print(f"old ETL         {560:10,} rows/s  -> {full_rps / 560:.0f}x")
    print(
        f"chatwoot rows={n} full_rps={full_rps:.0f} source_copy_rps={copy_rps:.0f} "
        f"vs_source_copy={full_rps / copy_rps:.2f} incr_s={incr_s:.2f} incr_vs_full={incr_s / full_s:.3f} "
        f"peak_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
