"""Meta Ads insights: raw landing from the Graph API, and the cleaned staging table.

Partitioned by day (America/Sao_Paulo) x ad account with a single-run backfill policy:
a backfill or the 4-hourly re-pull hands one run the whole date range of an account,
which becomes one API range and one transaction per account.
"""

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MultiPartitionsDefinition,
    asset,
)

from asset_checks import meta_staging as staging_checks
from resources.graph_client import gc_paused
from resources.loader import LoadResult
from resources.meta import MetaAdsResource
from resources.warehouse import Warehouse

from ..partitions import DateRange, run_date_ranges
from ..tenants import Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import insights_meta_ads, meta_ads_insights_raw
from .cleaner import clean_insights
from .raw_rows import raw_rows
from .staging_type import InsightsMetaAdsFrame

RAW_KEY = AssetKey(["raw", "meta_ads_insights"])
STAGING_KEY = AssetKey(["staging", "insights_meta_ads"])
GROUP = "meta_ads"
# Raw rows re-read per batch when rebuilding staging: bounds memory whatever the range.
STAGING_READ_CHUNK = 20_000


def _scope(rng: DateRange) -> dict:
    return {"account_id": rng.account, "data": (rng.first, rng.last)}


def _read_raw_payloads(conn: psycopg.Connection, rng: DateRange) -> Iterator[list[str]]:
    """The raw payloads of a range as JSON text, in batches."""
    with conn.cursor(name="raw_meta_payloads") as cur:  # server-side: streamed, not buffered
        cur.itersize = STAGING_READ_CHUNK
        # As text, parsed by the caller: psycopg's jsonb loader hands json.loads bytes,
        # which it decodes on a slow path (a third of the read time).
        cur.execute(
            "SELECT payload::text FROM raw.meta_ads_insights WHERE account_id = %s AND data BETWEEN %s AND %s",
            (rng.account, rng.first, rng.last),
        )
        while True:
            with gc_paused():  # 20k row tuples, acyclic and gone once their text is taken
                texts = [row[0] for row in cur.fetchmany(STAGING_READ_CHUNK)]
            if not texts:
                return
            yield texts


def _staging_frames(conn: psycopg.Connection, rng: DateRange) -> Iterator:
    """Raw payloads -> cleaned, type-checked staging frames, one per batch."""
    for texts in _read_raw_payloads(conn, rng):
        # The parsed rows are acyclic and die inside this block: pausing the collector
        # spares it walking 20k fresh dicts (and their promotion) per batch, for nothing.
        with gc_paused():
            frame = clean_insights(_parse_payloads(texts))
        yield _typed(frame)


def _parse_payloads(texts: list[str]) -> list[dict]:
    return [json.loads(text) for text in texts]


def build_meta_assets(tenants: Tenants, partitions: MultiPartitionsDefinition, *, automation_condition=None):
    @asset(
        key=RAW_KEY,
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"facebook", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(meta_ads_insights_raw),
        description="Meta Ads insights rows exactly as the Graph API returned them "
                    "(level=ad, daily, by publisher platform and position), with a content hash.",
    )
    def meta_ads_insights(context: AssetExecutionContext, warehouse: Warehouse, meta: MetaAdsResource) -> MaterializeResult:
        fetched_at = datetime.now(timezone.utc)
        results = []
        for rng in run_date_ranges(context):
            tenant = tenants.tenant_of_ad_account(rng.account)
            context.log.info(f"pulling {rng.account} ({tenant.id}) {rng.first}..{rng.last} ({rng.days} days)")
            pages = meta.iter_insights(rng.account, rng.first, rng.last, token_env=tenant.meta_token_env)
            chunks = (raw_rows(page, rng.account, rng.first, rng.last, fetched_at) for page in pages)
            # Restating a range replaces it: rows Meta no longer returns are removed.
            result = warehouse.load(meta_ads_insights_raw, chunks, replace_scope=_scope(rng),
                                    lock=(RAW_KEY.to_user_string(), rng.account), logger=context.log)
            context.log.info(f"{rng.account}: {result}")
            results.append(result)
        total = LoadResult.total(meta_ads_insights_raw.fullname, results)
        return MaterializeResult(metadata=materialization_metadata(
            meta_ads_insights_raw, total.rows, **total.as_metadata()))

    @asset(
        key=STAGING_KEY,
        deps=[RAW_KEY],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"pandas", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(insights_meta_ads),
        automation_condition=automation_condition,
        check_specs=staging_checks.check_specs(STAGING_KEY),
        description="Meta Ads insights cleaned by the Vetorial business rules (clicks, leads by origin, "
                    "followers, CTR/CPC/CPL), keyed by hash_id = md5(ad_id+date+platform+position). "
                    "Rebuilt from raw: no API call.",
    )
    def insights_meta_ads_asset(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        results = []
        ranges = run_date_ranges(context)
        for rng in ranges:
            with warehouse.transaction() as conn:
                result = warehouse.load(insights_meta_ads, _staging_frames(conn, rng), replace_scope=_scope(rng),
                                        lock=(STAGING_KEY.to_user_string(), rng.account),
                                        logger=context.log, conn=conn)
            context.log.info(f"{rng.account}: {result}")
            results.append(result)
        with warehouse.transaction() as conn:
            checks = staging_checks.evaluate(conn, ranges)
        total = LoadResult.total(insights_meta_ads.fullname, results)
        return MaterializeResult(metadata=materialization_metadata(
            insights_meta_ads, total.rows, **total.as_metadata()), check_results=checks)

    return [meta_ads_insights, insights_meta_ads_asset]


def _typed(frame):
    """Validate against the staging DataFrame type before anything is written."""
    check = InsightsMetaAdsFrame.type_check(None, frame)
    if not check.success:
        raise ValueError(f"staging.insights_meta_ads frame failed its type check: {check.description}")
    return frame


__all__ = ["build_meta_assets", "RAW_KEY", "STAGING_KEY"]
