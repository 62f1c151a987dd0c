"""Warehouse benchmark (Meta side): the demo's data scaled to ~1,000,000 fact rows, the
model (Meta star: dims + fact_ad_insights_daily) and mart (campaign_performance_daily)
built in full, then recomputed for one restated day of one account.

Setup (not timed): the sandbox Graph API's own data generator renders the API rows of
--accounts x --ads x --placements x --days (3 x 200 x 6 x 280 = 1,008,000), the production
cleaner cleans them and the load path loads staging.insights_meta_ads (its change-ledger
triggers record every account-day), then ANALYZE (what autovacuum does on a live warehouse).

Timed:
  full     the first run of the Meta star and the campaign mart: no ledger cursor, so a full
           build (one set-based unit per ad account, then one per tenant)
  one_day  the sandbox restates one day of one account (Meta's attribution restatements);
           the re-pull's load is not timed; then the star and the mart run again and
           recompute only that account-day and that tenant-day from the ledger
Both end with the same reconciliation (staging = fact = mart for rows, spend and leads):
a wrong build fails the bench instead of printing a time.

Usage: python benchmarks/warehouse_bench.py [--accounts 3] [--ads 200] [--placements 6] [--days 280] [--home DIR]
Last line (read by tools):
warehouse fact_rows=N full_s=… one_day_s=… one_day_vs_full=…
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from resources.warehouse import Warehouse
from vetorial_assets.mart.assets import build_campaign_performance
from vetorial_assets.meta.cleaner import clean_insights
from vetorial_assets.meta.graph.insights import INSIGHTS_FIELDS
from vetorial_assets.model.assets import build_meta_star, tenant_rows
from vetorial_assets.platform.embedded import ensure_server, release_server
from vetorial_assets.sandbox.graph_data import GraphData, InsightsShape
from vetorial_assets.tenants import parse_tenants
from vetorial_assets.warehouse.tables import insights_meta_ads
from vetorial_assets.warehouse.tables.model import dim_tenant

DAYS_PER_CHUNK = 10


def accounts_of(n: int) -> list[str]:
    return [f"act_{100_000_000_000_000 + i}" for i in range(1, n + 1)]


def bench_tenants(accounts: list[str]):
    # Two accounts per tenant, like the demo's first client.
    lines = ["tenants:"]
    for i in range(0, len(accounts), 2):
        lines += [
            f"  - id: bench{i // 2 + 1}",
            f"    name: Bench {i // 2 + 1}",
            f"    meta_ad_accounts: [{', '.join(accounts[i : i + 2])}]",
        ]
    return parse_tenants("\n".join(lines) + "\n", Path("<warehouse_bench>"))


def staging_chunks(data: GraphData, account: str, days: list):
    shape = InsightsShape(fields=tuple(INSIGHTS_FIELDS))
    for i in range(0, len(days), DAYS_PER_CHUNK):
        rows = [json.loads(text) for day in days[i : i + DAYS_PER_CHUNK] for text in data.day_rows(account, day, shape)]
        yield clean_insights(rows)


def reconcile(warehouse: Warehouse) -> int:
    with warehouse.transaction() as conn:
        layers = conn.execute("""
            SELECT count(*), sum(valor_gasto), sum(leads_total) FROM staging.insights_meta_ads
            UNION ALL SELECT count(*), sum(spend), sum(leads_total) FROM model.fact_ad_insights_daily
            UNION ALL SELECT (SELECT count(*) FROM model.fact_ad_insights_daily), sum(spend), sum(leads_total)
            FROM mart.campaign_performance_daily""").fetchall()
    if len(set(layers)) != 1:
        raise SystemExit(f"layers do not reconcile (rows, spend, leads: staging, fact, mart): {layers}")
    return int(layers[0][0])


def build(warehouse: Warehouse, tenants) -> tuple[float, int, int]:
    started = time.perf_counter()
    star = build_meta_star(warehouse, tenants)
    mart = build_campaign_performance(warehouse)
    return time.perf_counter() - started, star.units, mart.units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--ads", type=int, default=200)
    parser.add_argument("--placements", type=int, default=6)
    parser.add_argument("--days", type=int, default=280)
    parser.add_argument("--home", help="VETORIAL_HOME of the embedded server; default: a temp dir")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="vetorial-wh-"))
    home = Path(args.home) if args.home else scratch / "home"
    server = ensure_server(home, databases=())
    db = f"warehouse_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    warehouse = Warehouse(url=server.url(db))
    try:
        accounts = accounts_of(args.accounts)
        tenants = bench_tenants(accounts)
        data = GraphData(ads_per_account=args.ads, placements=args.placements)
        days = [data.today - timedelta(days=n) for n in range(args.days, 0, -1)]
        warehouse.ensure_schema()
        started = time.perf_counter()
        for account in accounts:
            warehouse.load(insights_meta_ads, staging_chunks(data, account, days))
        warehouse.load(dim_tenant, [tenant_rows(tenants)])
        with warehouse.transaction() as conn:
            conn.execute("ANALYZE staging.insights_meta_ads")
        print(f"setup: staging loaded in {time.perf_counter() - started:.1f}s", flush=True)

        full_s, full_units, mart_units = build(warehouse, tenants)
        fact_rows = reconcile(warehouse)
        print(
            f"full build      {full_s:7.2f}s  ({full_units} account units, {mart_units} tenant units, "
            f"{fact_rows:,} fact rows)",
            flush=True,
        )

        account, day = accounts[0], days[-3]
        data.restate(account, day)  # Meta restated the day: a re-pull reloads it (not timed)
        warehouse.load(
            insights_meta_ads,
            staging_chunks(data, account, [day]),
            replace_scope={"account_id": account, "data": (day, day)},
        )
        one_day_s, star_units, mart_units = build(warehouse, tenants)
        if (star_units, mart_units) != (1, 1):
            raise SystemExit(f"one restated day recomputed {star_units} star and {mart_units} mart units, not 1 and 1")
        reconcile(warehouse)
        print(f"one day         {one_day_s:7.2f}s  (1 account-day, 1 tenant-day)", flush=True)
    finally:
        warehouse.engine().dispose()
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        release_server(home)
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"warehouse fact_rows={fact_rows} full_s={full_s:.2f} one_day_s={one_day_s:.3f} "
        f"one_day_vs_full={one_day_s / full_s:.4f}"
    )


if __name__ == "__main__":
    main()
