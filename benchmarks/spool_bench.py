"""What "pull first, lock later" costs the warehouse: one Meta account range landed two ways.

The rows are one account's 90 days from the sandbox Graph API (200 ads x 6 placements: 108k
raw rows with their JSONB payloads, and the same rows cleaned for staging), fetched and
prepared once, before anything is timed, so only the warehouse's part is measured:
  direct  Warehouse.load per table into an empty scope: COPY straight into raw, then into
          staging, each in its own transaction (how both landed before the spool; the lock
          was held from the first page)
  spool   the same chunks written to a Spooler's two spools (COPY into session temp
          tables, autocommit, writer thread), then
  apply   Spooler.apply: both locks, INSERT ... SELECT into raw and into staging, one
          transaction (raw_s / staging_s: each table's statement inside it)
  bytes   the alternative for an empty scope: the pull kept as COPY data in a client-side
          file, sent under the locks straight into both tables (the file is made from the
          spools, untimed; only its COPY under the locks is timed)
Each round uses a fresh database per way; rounds run direct, spool, bytes in turn.

Usage: python benchmarks/spool_bench.py [--rounds 3] [--home DIR]
Last line (read by tools), medians over the rounds:
spool rows=N direct_s=… spool_s=… apply_s=… apply_raw_s=… apply_staging_s=… bytes_apply_s=… apply_vs_direct=…
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ACCOUNT = "act_900000000000001"
TODAY = date(2025, 6, 30)
RAW_CHUNK, STAGING_CHUNK = 5_000, 20_000  # as vetorial_assets/meta/assets.py spools them


def fetch(ads: int, days: int):
    """(raw chunks, staging frames, first, last) of one account range, from the sandbox."""
    from vetorial_assets.meta.cleaner import clean_insights
    from vetorial_assets.meta.raw_rows import raw_rows
    from vetorial_assets.sandbox.graph_api import SandboxGraphAPI
    from vetorial_assets.sandbox.resources import SandboxMetaAdsResource

    last = TODAY - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    with SandboxGraphAPI(ads_per_account=ads, today=TODAY, record_requests=False) as api:
        meta = SandboxMetaAdsResource(graph_url=api.base_url, async_first_poll_seconds=0.01)
        pages = list(meta.iter_insights(ACCOUNT, first, last))
    fetched_at = datetime.now(UTC)
    raw_chunks, batch, api_rows = [], {}, []
    for page in pages:
        for name, values in raw_rows(page, ACCOUNT, first, last, fetched_at).items():
            batch.setdefault(name, []).extend(values)
        if len(batch["account_id"]) >= RAW_CHUNK:
            raw_chunks.append(batch)
            batch = {}
        api_rows.extend(page)
    if batch:
        raw_chunks.append(batch)
    frames = [clean_insights(api_rows[i : i + STAGING_CHUNK]) for i in range(0, len(api_rows), STAGING_CHUNK)]
    return raw_chunks, frames, first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ads", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--home", default=".vetorial-bench")
    args = parser.parse_args()

    from resources.load import PulledRange, advisory_xact_lock
    from resources.warehouse import Warehouse
    from vetorial_assets.platform.embedded import ensure_server
    from vetorial_assets.warehouse.tables import insights_meta_ads, meta_ads_insights_raw

    server = ensure_server(Path(args.home), databases=())
    raw_chunks, frames, first, last = fetch(args.ads, args.days)
    rows = sum(len(c["account_id"]) for c in raw_chunks)
    scope = {"account_id": ACCOUNT, "data": (first, last)}
    locks = ("raw/meta_ads_insights", ACCOUNT), ("staging/insights_meta_ads", ACCOUNT)

    def direct(wh: Warehouse) -> dict:
        started = time.perf_counter()
        wh.load(meta_ads_insights_raw, raw_chunks, replace_scope=scope, lock=locks[0])
        wh.load(insights_meta_ads, frames, replace_scope=scope, lock=locks[1])
        return {"direct": time.perf_counter() - started}

    def spooled(wh: Warehouse) -> dict:
        with wh.spooler() as spooler:
            raw = spooler.spool(meta_ads_insights_raw, lock=locks[0])
            staging = spooler.spool(insights_meta_ads, lock=locks[1])
            started = time.perf_counter()
            for chunk in raw_chunks:
                raw.write(chunk)
            for frame in frames:
                staging.write(frame)
            written = time.perf_counter()
            per_table: dict[str, float] = {}  # each table's statement inside the apply
            spooler.apply(
                [raw, staging],
                PulledRange(locks[0][0], ACCOUNT, first, last),
                replace=True,
                lock_wait_seconds=60,
                timings=per_table,
            )
            applied = time.perf_counter()
        return {
            "spool": written - started,
            "apply": applied - written,
            "apply_raw": per_table[meta_ads_insights_raw.fullname],
            "apply_staging": per_table[insights_meta_ads.fullname],
        }

    def copied_bytes(wh: Warehouse) -> dict:
        with wh.spooler() as spooler, tempfile.TemporaryDirectory(prefix="spool-bench-") as tmp:
            spools = [
                spooler.spool(meta_ads_insights_raw, lock=locks[0]),
                spooler.spool(insights_meta_ads, lock=locks[1]),
            ]
            for chunk in raw_chunks:
                spools[0].write(chunk)
            for frame in frames:
                spools[1].write(frame)
            files = []
            for n, spool in enumerate(spools):  # the COPY data a client-side spool would have written
                path = Path(tmp) / f"{n}.copy"
                with open(path, "wb") as out:
                    spool.copy_to(out)
                files.append(path)
            with wh.transaction() as conn:  # a session of its own; connecting is not timed
                started = time.perf_counter()
                for lock in locks:
                    advisory_xact_lock(conn, *lock)
                for spool, path in zip(spools, files):
                    columns = sql.SQL(", ").join(map(sql.Identifier, spool.columns))
                    with (
                        open(path, "rb") as data,
                        conn.cursor().copy(
                            sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(spool.target.ident, columns)
                        ) as copy,
                    ):
                        while block := data.read(1 << 20):
                            copy.write(block)
            return {"bytes_apply": time.perf_counter() - started}

    results: dict[str, list[float]] = {}
    for round_no in range(args.rounds):
        for way in (direct, spooled, copied_bytes):
            db = f"spool_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            wh = Warehouse(url=server.url(db))
            try:
                wh.ensure_schema()
                timings = way(wh)
            finally:
                wh.engine().dispose()
                with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            print(
                f"round {round_no + 1} {way.__name__:<12} " + "  ".join(f"{k} {v:5.2f}s" for k, v in timings.items()),
                flush=True,
            )
            for name, value in timings.items():
                results.setdefault(name, []).append(value)
    med = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"spool rows={rows} direct_s={med['direct']:.2f} spool_s={med['spool']:.2f} apply_s={med['apply']:.2f} "
        f"apply_raw_s={med['apply_raw']:.2f} apply_staging_s={med['apply_staging']:.2f} "
        f"bytes_apply_s={med['bytes_apply']:.2f} apply_vs_direct={med['apply'] / med['direct']:.2f}"
    )


if __name__ == "__main__":
    main()
