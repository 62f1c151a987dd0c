"""Load-path benchmark: N rows shaped like staging.insights_meta_ads through the load engine (`resources.load.load`).

Measured in one run, on the same server, so the ratios compare like with like:
  first      load into an empty table (all inserts)
  unchanged  the same rows again (all filtered out: nothing rewritten)
  changed10  the same rows with 10% of them changed
  copy       the physical reference: plain binary COPY into an empty table of the same shape
             (spend converted to Decimal: binary COPY takes numeric only that way)
  row_by_row the seeds' way: one INSERT … ON CONFLICT per row through SQLAlchemy (20k sample)
  to_sql     pandas.DataFrame.to_sql(method="multi") (20k sample)
Rows are generated in chunks as they are consumed, so memory stays bounded.

  --ledger   the measured table carries the change ledger's triggers (as the warehouse's
             tracked tables do): run with and without, back to back, for their cost

Usage: python benchmarks/load_bench.py --rows 1000000 [--home DIR] [--chunk 50000] [--ledger]
Last line (read by tools):
load rows=N first_rps=… unchanged_rps=… changed10_rps=… copy_rps=… vs_copy=… vs_row_by_row=…x vs_to_sql=…x peak_rss_mb=…
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import create_engine, text

from resources import load as loader
from vetorial_assets.platform.embedded import ensure_server

SAMPLE = 20_000
# valor_gasto keeps the numeric(14,2) staging had before its columns were widened: results
# stay comparable with earlier runs, and the load path's typmod check is on the measured path.
COLUMNS_DDL = """
    hash_id text COLLATE "C" PRIMARY KEY,
    data date NOT NULL,
    account_id text NOT NULL,
    ad_id text NOT NULL,
    plataforma text NOT NULL,
    posicionamento text NOT NULL,
    valor_gasto numeric(14,2) NOT NULL,
    impressoes bigint NOT NULL,
    alcance bigint NOT NULL,
    cliques bigint NOT NULL,
    leads_total bigint NOT NULL,
    ctr double precision,
    cpc double precision,
    cpl double precision
"""
PLATFORMS = np.array(["facebook", "instagram", "audience_network"], dtype=object)
POSITIONS = np.array(["feed", "story", "reels", "marketplace", "search", "video_feeds"], dtype=object)
DAY0 = np.datetime64("2025-01-01")


def chunk(lo: int, hi: int, change_every: int = 0) -> pd.DataFrame:
    idx = np.arange(lo, hi)
    impressions = (idx * 7919) % 50_000
    clicks = impressions // 97
    spend = ((idx * 104729) % 100_000) / 100.0
    if change_every:
        changed = idx % change_every == 0
        impressions = np.where(changed, impressions + 1, impressions)
    leads = clicks // 11
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where(impressions > 0, clicks / impressions * 100, np.nan)
        cpc = np.where(clicks > 0, spend / clicks, np.nan)
        cpl = np.where(leads > 0, spend / leads, np.nan)
    return pd.DataFrame(
        {
            "hash_id": np.char.add("h", idx.astype("U12")).astype(object),
            "data": (DAY0 + (idx % 90)).astype("datetime64[D]"),
            "account_id": np.where(idx % 3 == 0, "act_1", "act_2").astype(object),
            "ad_id": (idx // 540 + 1_000_000).astype("U12").astype(object),
            "plataforma": PLATFORMS[idx % 3],
            "posicionamento": POSITIONS[idx % 6],
            "valor_gasto": spend,
            "impressoes": impressions,
            "alcance": impressions * 3 // 4,
            "cliques": clicks,
            "leads_total": leads,
            "ctr": ctr,
            "cpc": cpc,
            "cpl": cpl,
        }
    )


def chunks(n: int, size: int, change_every: int = 0) -> Iterator[pd.DataFrame]:
    for lo in range(0, n, size):
        yield chunk(lo, min(lo + size, n), change_every)


def create_table(conn: psycopg.Connection, name: str, ddl: str = COLUMNS_DDL) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("bench", name)))
    conn.execute(sql.SQL("CREATE TABLE {} (" + ddl + ")").format(sql.Identifier("bench", name)))
    conn.commit()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_loader(conn: psycopg.Connection, n: int, size: int, change_every: int = 0) -> loader.LoadResult:
    target = loader.describe_table(conn, "bench", "insights")
    result = loader.load(conn, target, chunks(n, size, change_every))
    conn.commit()
    return result


def reference_rows(frame: pd.DataFrame) -> Iterator[tuple]:
    """The value conversion binary COPY needs for this frame and nothing else (dates as
    dates, NaN as None, numeric as Decimal): what the loader must do at least, so the ratio
    measures the load path (its checks included), not the converter."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        if np.issubdtype(series.dtype, np.datetime64):
            columns.append(series.to_numpy(dtype="datetime64[D]").astype(object).tolist())
        elif np.issubdtype(series.dtype, np.floating):
            values = series.to_numpy().tolist()
            if name == "valor_gasto":
                columns.append([None if v != v else Decimal(repr(v)) for v in values])
            else:
                columns.append([None if v != v else v for v in values])
        elif series.dtype == object:
            values = series.to_numpy()
            # NULLs in an object column are None, NaN, NaT or NA: one pass over the value
            # types tells whether there are any (as the loader before its checks did).
            if any(issubclass(t, float) or t in (type(pd.NaT), type(pd.NA)) for t in set(map(type, values))):
                values = np.where(pd.isna(values), None, values)
            columns.append(values.tolist())
        else:
            columns.append(series.to_numpy().tolist())
    return zip(*columns)


def run_copy(conn: psycopg.Connection, n: int, size: int) -> None:
    target = loader.describe_table(conn, "bench", "copy_ref")
    types = [c.type_oid for c in target.columns]
    stmt = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier("bench", "copy_ref"))
    for frame in chunks(n, size):
        with conn.cursor().copy(stmt) as copy:
            copy.set_types(types)
            for row in reference_rows(frame):
                copy.write_row(row)
    conn.commit()


def run_row_by_row(url: str) -> float:
    frame = chunk(0, SAMPLE)
    records = frame.assign(data=frame["data"].dt.date).replace({np.nan: None}).to_dict("records")
    cols = list(frame.columns)
    stmt = text(
        f"INSERT INTO bench.row_by_row ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
        "ON CONFLICT (hash_id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "hash_id")
    )  # the seeds' statement: fixed column names, values bound per row
    engine = create_engine(url)
    with engine.begin() as conn:
        start = time.perf_counter()
        for record in records:
            conn.execute(stmt, record)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return SAMPLE / elapsed


def run_to_sql(url: str) -> float:
    frame = chunk(0, SAMPLE)
    engine = create_engine(url)
    start = time.perf_counter()
    frame.to_sql("to_sql", engine, schema="bench", if_exists="append", index=False, method="multi", chunksize=1000)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return SAMPLE / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--home", default=".vetorial-bench")
    parser.add_argument("--ledger", action="store_true", help="the measured table has the change ledger's triggers")
    args = parser.parse_args()
    n, size = args.rows, args.chunk

    server = ensure_server(Path(args.home), databases=())
    db = f"load_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        with psycopg.connect(server.conninfo(db), options="-c temp_buffers=64MB") as conn:
            conn.execute("CREATE SCHEMA bench")
            for name in ("insights", "row_by_row"):
                create_table(conn, name)
            create_table(conn, "copy_ref")
            if args.ledger:
                add_ledger(conn, server.url(db))

            copy_s = timed(lambda: run_copy(conn, n, size))
            first_s = timed(lambda: _expect(run_loader(conn, n, size), n, 0, 0))
            unchanged_s = timed(lambda: _expect(run_loader(conn, n, size), 0, 0, n))
            changed_s = timed(lambda: _expect(run_loader(conn, n, size, change_every=10), 0, -(-n // 10), None))
        row_rps = run_row_by_row(server.url(db))
        to_sql_rps = run_to_sql(server.url(db))
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))

    first_rps, copy_rps = n / first_s, n / copy_s
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"first load      {first_s:7.2f}s  {first_rps:10,.0f} rows/s")
    print(f"unchanged       {unchanged_s:7.2f}s  {n / unchanged_s:10,.0f} rows/s")
    print(f"10% changed     {changed_s:7.2f}s  {n / changed_s:10,.0f} rows/s")
    print(f"plain COPY      {copy_s:7.2f}s  {copy_rps:10,.0f} rows/s")
    print(f"row by row      {row_rps:10,.0f} rows/s (20k sample)")
    print(f"to_sql multi    {to_sql_rps:10,.0f} rows/s (20k sample)")
    print(
        f"load rows={n} first_rps={first_rps:.0f} unchanged_rps={n / unchanged_s:.0f} "
        f"changed10_rps={n / changed_s:.0f} copy_rps={copy_rps:.0f} vs_copy={first_rps / copy_rps:.2f} "
        f"vs_row_by_row={first_rps / row_rps:.1f}x vs_to_sql={first_rps / to_sql_rps:.1f}x "
        f"peak_rss_mb={peak_rss_mb:.0f}"
    )


def add_ledger(conn: psycopg.Connection, url: str) -> None:
    """ops.changed_days and the ledger's triggers on bench.insights, as on a tracked table."""
    from sqlalchemy import MetaData, Table

    from vetorial_assets.warehouse.tables.ledger import changed_days, function_sql, trigger_statements

    conn.execute("CREATE SCHEMA ops")
    conn.commit()
    engine = create_engine(url)
    with engine.begin() as sa_conn:
        changed_days.create(sa_conn)
    engine.dispose()
    conn.execute(function_sql())
    bench = Table("insights", MetaData(), schema="bench", info={"ledger": ("account_id", "data")})
    for statement in trigger_statements(bench):
        conn.execute(statement)
    conn.commit()


def _expect(result: loader.LoadResult, inserted: int, updated: int, unchanged: int | None) -> None:
    assert result.inserted == inserted and result.updated == updated, result
    if unchanged is not None:
        assert result.unchanged == unchanged, result


if __name__ == "__main__":
    main()
