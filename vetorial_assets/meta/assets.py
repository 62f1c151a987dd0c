"""Meta Ads insights: raw landing from the Graph API, and the cleaned staging table.

Partitioned by day (America/Sao_Paulo) x ad account with a single-run backfill policy:
a backfill or the 4-hourly re-pull hands one run the whole date range of an account,
which becomes one API range and one transaction per account.

Both tables are one subsettable step (a multi-asset). Run together (the schedule, a
backfill of both), staging is cleaned from the rows as they come from the API, so raw is
not read back and parsed a second time; run alone, staging is rebuilt from raw with no API
call. Either way the same pure cleaner makes the same rows.

Pull first, lock later (resources/load/spool.py): the pages are spooled into temp tables of one
warehouse session while they arrive (retries, throttle pauses and async jobs included) with
no lock held and no transaction open; then raw and staging of the range are applied in ONE
short transaction under both advisory locks. Committed raw and staging of a range never
disagree, and a run waiting on the Graph API blocks no other run of the account. A batch
the cleaner cannot clean at all (not a bad row: those are left out and recorded) fails the
range with nothing written; raw alone can still be materialized.
"""

import json
from collections.abc import Iterator
from datetime import datetime

import psycopg
from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MultiPartitionsDefinition,
    multi_asset,
)
from pydantic import Field

from asset_checks import rejected_values as rejected_checks
from resources.load import LoadResult
from resources.load.progress import Progress, combined_metadata
from resources.load.rejections import Quarantine
from resources.load.spool import PulledRange, Spool
from resources.meta import MetaAdsResource
from resources.warehouse import Warehouse

from ..partitions import DateRange, run_date_ranges
from ..tenants import Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import insights_meta_ads, meta_ads_insights_raw
from .cleaner import RejectedRow, clean_insights
from .raw_rows import raw_rows
from .staging_type import InsightsMetaAdsFrame

RAW_KEY = AssetKey(["raw", "meta_ads_insights"])
STAGING_KEY = AssetKey(["staging", "insights_meta_ads"])
GROUP = "meta_ads"
# Rows cleaned per batch (from the API or re-read from raw): bounds memory whatever the range.
STAGING_READ_CHUNK = 20_000
# Raw rows per spool COPY (ten pages): each COPY is a statement of its own (a round trip
# and a commit), so not one per page; ten pages of payloads are a few MB.
RAW_SPOOL_ROWS = 5_000


class MetaLoadConfig(Config):
    lock_wait_seconds: float = Field(
        default=300,
        ge=0,
        description="How long applying a pulled range waits for another run of the same account "
        "(its apply, or a staging rebuild) before failing; pulling never waits.",
    )


def _scope(rng: DateRange) -> dict:
    return {"account_id": rng.account, "data": (rng.first, rng.last)}


def read_raw_payloads(conn: psycopg.Connection, rng: DateRange) -> Iterator[list[str]]:
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
            texts = [row[0] for row in cur.fetchmany(STAGING_READ_CHUNK)]
            if not texts:
                return
            yield texts


def _quarantine(context, key: AssetKey, rng: DateRange) -> Quarantine:
    return Quarantine(key.to_user_string(), rng.account, context.run.run_id)


def _record(quarantine: Quarantine, table, rejected: list[RejectedRow]) -> None:
    """Rows a pure step left out, to be recorded with the load they belong to."""
    for row in rejected:
        quarantine.skip_row(table.fullname, row.key, row.field, row.reason, row.value)
    rejected.clear()


def _staging_frames(conn: psycopg.Connection, rng: DateRange, quarantine: Quarantine) -> Iterator:
    """Raw payloads -> cleaned, type-checked staging frames, one per batch; a row the
    cleaner cannot clean is left out and recorded (`quarantine`)."""
    rejected: list[RejectedRow] = []
    for texts in read_raw_payloads(conn, rng):
        frame = clean_insights(parse_payloads(texts), rejected=rejected)
        _record(quarantine, insights_meta_ads, rejected)
        yield typed_staging_frame(frame)


def parse_payloads(texts: list[str]) -> list[dict]:
    return [json.loads(text) for text in texts]


def build_meta_assets(tenants: Tenants, partitions: MultiPartitionsDefinition, *, automation_condition=None):
    raw_spec = AssetSpec(
        RAW_KEY,
        group_name=GROUP,
        kinds={"facebook", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(meta_ads_insights_raw),
        description="Meta Ads insights rows exactly as the Graph API returned them "
        "(level=ad, daily, by publisher platform and position), with a content hash.",
    )
    staging_spec = AssetSpec(
        STAGING_KEY,
        deps=[RAW_KEY],
        group_name=GROUP,
        kinds={"pandas", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(insights_meta_ads),
        automation_condition=automation_condition,
        description="Meta Ads insights cleaned by the Vetorial business rules (clicks, leads by origin, "
        "followers, CTR/CPC/CPL), keyed by hash_id = md5(ad_id+date+platform+position). "
        "Alone, it is rebuilt from raw: no API call.",
    )

    @multi_asset(
        name="meta_ads_insights",
        specs=[raw_spec, staging_spec],
        # The staging checks are standalone (asset_checks/meta_staging.py): they run after this step.
        check_specs=[rejected_checks.check_spec(RAW_KEY), rejected_checks.check_spec(STAGING_KEY)],
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
    )
    def meta_ads_insights(
        context: AssetExecutionContext, config: MetaLoadConfig, warehouse: Warehouse, meta: MetaAdsResource
    ):
        selected = context.selected_asset_keys
        ranges = run_date_ranges(context)
        staged: dict[DateRange, LoadResult] = {}
        if RAW_KEY in selected:
            results, pulls = [], []
            for rng in ranges:
                pulls.append(Progress(f"{rng.account} {rng.first}..{rng.last}", context.log))
                raw, staging = _pull_and_apply(
                    context, config, rng, warehouse, meta, tenants, staging=STAGING_KEY in selected, progress=pulls[-1]
                )
                results.append(raw)
                if staging is not None:
                    staged[rng] = staging
            total = LoadResult.total(meta_ads_insights_raw.fullname, results)
            with warehouse.transaction() as conn:
                checks = _selected(context, [rejected_checks.evaluate(conn, RAW_KEY, context.run.run_id)])
            yield MaterializeResult(
                asset_key=RAW_KEY,
                metadata=materialization_metadata(
                    meta_ads_insights_raw, total.rows, **total.as_metadata(), **combined_metadata(pulls)
                ),
                check_results=checks,
            )
        if STAGING_KEY in selected:
            timer = Progress("staging", context.log)
            results = [staged[rng] if rng in staged else _rebuild_staging(context, rng, warehouse) for rng in ranges]
            timer.stop(sum(r.rows for r in results))
            with warehouse.transaction() as conn:
                checks = _selected(context, [rejected_checks.evaluate(conn, STAGING_KEY, context.run.run_id)])
            total = LoadResult.total(insights_meta_ads.fullname, results)
            # Staging pulled with raw shares its time: its rate is the pull's.
            timing = combined_metadata(pulls) if RAW_KEY in selected else timer.metadata()
            yield MaterializeResult(
                asset_key=STAGING_KEY,
                metadata=materialization_metadata(insights_meta_ads, total.rows, **total.as_metadata(), **timing),
                check_results=checks,
            )

    return [meta_ads_insights]


def _selected(context, results: list) -> list:
    return [c for c in results if AssetCheckKey(c.asset_key, c.check_name) in context.selected_asset_check_keys]


def _pull_and_apply(
    context,
    config: MetaLoadConfig,
    rng: DateRange,
    warehouse: Warehouse,
    meta: MetaAdsResource,
    tenants: Tenants,
    staging: bool,
    progress: Progress,
) -> tuple[LoadResult, LoadResult | None]:
    """Raw for one account range from the API and, when asked, staging cleaned from the same
    rows: spooled while the pages arrive (no lock, no open transaction), then applied together
    in one transaction under both locks. (raw result, staging result or None)."""
    tenant = tenants.tenant_of_ad_account(rng.account)
    context.log.info(f"pulling {rng.account} ({tenant.id}) {rng.first}..{rng.last} ({rng.days} days)")
    raw_quarantine = _quarantine(context, RAW_KEY, rng)
    staging_quarantine = _quarantine(context, STAGING_KEY, rng) if staging else None
    with warehouse.spooler(logger=context.log) as spooler:
        raw = spooler.spool(
            meta_ads_insights_raw, lock=(RAW_KEY.to_user_string(), rng.account), quarantine=raw_quarantine
        )
        spools = [raw]
        if staging:
            spools.append(
                spooler.spool(
                    insights_meta_ads, lock=(STAGING_KEY.to_user_string(), rng.account), quarantine=staging_quarantine
                )
            )
        # Rows so far and rows/s while the pages arrive (a line every few seconds).
        pages = progress.track(
            meta.iter_insights(rng.account, rng.first, rng.last, token_env=tenant.meta_token_env), len
        )
        _spool_pages(
            pages, rng, spooler.pulled_at, raw, spools[1] if staging else None, raw_quarantine, staging_quarantine
        )
        # Restating a range replaces it: rows Meta no longer returns are removed.
        results = spooler.apply(
            spools,
            PulledRange(RAW_KEY.to_user_string(), rng.account, rng.first, rng.last),
            replace=True,
            lock_wait_seconds=config.lock_wait_seconds,
            run_id=context.run.run_id,
        )
    progress.finish()
    for result in results:
        context.log.info(f"{rng.account}: {result}")
    return results[0], (results[1] if staging else None)


def _spool_pages(
    pages,
    rng: DateRange,
    fetched_at: datetime,
    raw: Spool,
    staging: Spool | None,
    raw_quarantine: Quarantine,
    staging_quarantine: Quarantine | None,
) -> None:
    """API pages -> raw rows into `raw`, and (given `staging`) the same rows cleaned into it,
    in batches: memory stays bounded whatever the range."""
    rejected: list[RejectedRow] = []
    raw_batch: dict[str, list] = {}
    api_rows: list[dict] = []
    for page in pages:
        cols = raw_rows(page, rng.account, rng.first, rng.last, fetched_at, rejected=rejected)
        if staging is not None:
            # Staging cleans the rows raw kept: one left out of raw is no staging row either.
            left_out = {row.index for row in rejected}
            api_rows.extend([row for i, row in enumerate(page) if i not in left_out] if left_out else page)
        _record(raw_quarantine, meta_ads_insights_raw, rejected)
        for name, values in cols.items():
            raw_batch.setdefault(name, []).extend(values)
        if len(raw_batch["account_id"]) >= RAW_SPOOL_ROWS:
            raw.write(raw_batch)
            raw_batch = {}
        if len(api_rows) >= STAGING_READ_CHUNK:
            staging.write(_cleaned(api_rows, staging_quarantine))
            api_rows = []
    if raw_batch:
        raw.write(raw_batch)
    if api_rows:
        staging.write(_cleaned(api_rows, staging_quarantine))


def _cleaned(api_rows: list[dict], quarantine: Quarantine):
    """API rows -> the type-checked staging frame; a row the cleaner cannot clean is left out
    and recorded."""
    rejected: list[RejectedRow] = []
    frame = clean_insights(api_rows, rejected=rejected)
    _record(quarantine, insights_meta_ads, rejected)
    return typed_staging_frame(frame)


def _rebuild_staging(context, rng: DateRange, warehouse: Warehouse) -> LoadResult:
    context.log.info(f"{rng.account}: rebuilding staging from raw")
    quarantine = _quarantine(context, STAGING_KEY, rng)
    with warehouse.bulk_transaction() as conn:
        result = warehouse.load(
            insights_meta_ads,
            _staging_frames(conn, rng, quarantine),
            replace_scope=_scope(rng),
            lock=(STAGING_KEY.to_user_string(), rng.account),
            logger=context.log,
            conn=conn,
            quarantine=quarantine,
        )
    context.log.info(f"{rng.account}: {result}")
    return result


def typed_staging_frame(frame):
    """Validate against the staging DataFrame type before anything is written."""
    check = InsightsMetaAdsFrame.type_check(None, frame)
    if not check.success:
        raise ValueError(f"staging.insights_meta_ads frame failed its type check: {check.description}")
    return frame


__all__ = ["build_meta_assets", "RAW_KEY", "STAGING_KEY"]
