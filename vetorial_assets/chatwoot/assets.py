"""Chatwoot conversations: incremental sync per tenant by watermark (the AllpFit v3 ETL).

Per tenant partition, in one warehouse transaction:
  lock (tenant) -> read watermark -> stream source rows with updated_at > watermark - overlap
  -> load (COPY + merge) -> optionally mark deletions -> etl_control 'success' + new watermark.
The overlap re-reads a short window behind the watermark: rows committed late with a
timestamp equal to (or just below) the watermark are caught, and the idempotent merge
counts the re-read ones as unchanged. Rows whose updated_at lags far behind a change are
caught by the daily reconciliation run (full re-read, unchanged rows not rewritten).
"""

import time
from datetime import timedelta
from importlib import resources as pkg_resources

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, StaticPartitionsDefinition, asset
from psycopg import sql
from pydantic import Field

from resources.loader import advisory_xact_lock
from resources.source_db import SourceDatabase
from resources.warehouse import Warehouse

from ..run_tags import triggered_by
from ..tenants import Tenant, Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import conversas_analytics_raw
from . import control
from .transform import SOURCE_COLUMNS, to_raw_frame

RAW_KEY = AssetKey(["raw", "conversas_analytics"])
GROUP = "chatwoot"


def _sql(name: str) -> str:
    return pkg_resources.files("vetorial_assets.chatwoot").joinpath("sql", name).read_text(encoding="utf-8")


class ChatwootSyncConfig(Config):
    full_refresh: bool = Field(default=False, description="Ignore the watermark and read the tenant's whole source.")
    reconcile: bool = Field(default=False, description="Re-read everything (unchanged rows are not rewritten) and "
                                                       "mark conversations deleted in the source.")
    overlap_minutes: int = Field(default=15, ge=0, description="Re-read this far behind the watermark.")
    chunk_rows: int = Field(default=50_000, ge=10, description="Rows per streamed chunk (bounds memory).")
    lock_wait_seconds: float = Field(default=300, ge=0, description="How long a second run of the same tenant "
                                                                     "waits for the first before failing.")


def _mark_deleted(conn, source_db: SourceDatabase, tenant: Tenant, chunk_rows: int) -> int:
    scope = tenant.chatwoot
    conn.execute("CREATE TEMP TABLE _source_keys (conversation_id bigint PRIMARY KEY) ON COMMIT DROP")
    with conn.cursor().copy("COPY _source_keys (conversation_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8"])
        for keys in source_db.stream_keys(scope.account_id, list(scope.inbox_ids), chunk_rows=chunk_rows):
            for key in keys:
                copy.write_row((key,))
    deleted = conn.execute(_sql("mark_deleted.sql"), {"tenant_id": tenant.id}).rowcount
    conn.execute(sql.SQL("DROP TABLE _source_keys"))
    return deleted


def sync_tenant(context: AssetExecutionContext, config: ChatwootSyncConfig, warehouse: Warehouse,
                source_db: SourceDatabase, tenant: Tenant) -> dict:
    asset_key = RAW_KEY.to_user_string()
    scope = tenant.chatwoot
    warehouse.ensure_schema()
    engine = warehouse.engine()
    started = time.monotonic()
    with warehouse.transaction() as conn:
        previous = conn.execute(_sql("last_watermark.sql"), {"asset_key": asset_key, "tenant_id": tenant.id}).fetchone()[0]
    full = config.full_refresh or previous is None
    control_id = control.start_run(
        engine, execution_id=context.run.run_id, asset_key=asset_key, tenant_id=tenant.id,
        load_type="full" if full else "incremental", triggered_by=triggered_by(context.run.tags),
        watermark_start=None if full else previous)
    try:
        # Fails with every missing column named, before anything is read or written.
        extra = source_db.verify_schema(SOURCE_COLUMNS)
        if extra:
            context.log.warning(f"source has column(s) the warehouse does not load: {', '.join(extra)}")
        counts = control.RunCounts()
        with warehouse.transaction() as conn:
            advisory_xact_lock(conn, asset_key, tenant.id, timeout_seconds=config.lock_wait_seconds)
            # Re-read under the lock: a run that waited continues from the first one's watermark.
            watermark = conn.execute(_sql("last_watermark.sql"),
                                     {"asset_key": asset_key, "tenant_id": tenant.id}).fetchone()[0]
            full = config.full_refresh or watermark is None
            read_all = full or config.reconcile
            since = None if read_all else watermark - timedelta(minutes=config.overlap_minutes)
            newest = [watermark]

            def chunks():
                for rows in source_db.stream(SOURCE_COLUMNS, scope.account_id, list(scope.inbox_ids), since,
                                             chunk_rows=config.chunk_rows):
                    frame = to_raw_frame(rows, SOURCE_COLUMNS, tenant.id)
                    newest.append(frame["conversation_updated_at"].max().to_pydatetime())
                    yield frame

            result = warehouse.load(conversas_analytics_raw, chunks(), conn=conn, logger=context.log)
            counts.add(result)
            if read_all:
                counts.deleted = _mark_deleted(conn, source_db, tenant, config.chunk_rows)
            watermark_end = max((w for w in newest if w is not None), default=None)
            control.finish_success(conn, control_id, counts, None if full else watermark, watermark_end,
                                   started, time.monotonic())
    except BaseException as exc:
        control.finish_failed(engine, control_id, exc, started, time.monotonic(), redact=source_db.redact)
        raise
    context.log.info(f"{tenant.id}: {counts} watermark {watermark} -> {watermark_end}")
    return {
        "tenant_id": tenant.id,
        "load_type": "full" if full else ("reconcile" if config.reconcile else "incremental"),
        "rows_extracted": counts.extracted,
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_unchanged": counts.unchanged,
        "rows_deleted": counts.deleted,
        "watermark_start": str(watermark) if watermark else "none",
        "watermark_end": str(watermark_end) if watermark_end else "none",
    }


def build_chatwoot_assets(tenants: Tenants, partitions: StaticPartitionsDefinition):
    @asset(
        key=RAW_KEY,
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(conversas_analytics_raw),
        description="Chatwoot conversations from vw_conversations_analytics_final, synced incrementally per "
                    "tenant by watermark (conversation_updated_at); deletions in the source are marked "
                    "deleted_at. Every run is audited in ops.etl_control.",
    )
    def conversas_analytics(context: AssetExecutionContext, config: ChatwootSyncConfig, warehouse: Warehouse,
                            source_db: SourceDatabase) -> MaterializeResult:
        tenant = tenants.by_id(context.partition_key)
        summary = sync_tenant(context, config, warehouse, source_db, tenant)
        rows_now = warehouse.row_count(conversas_analytics_raw, {"tenant_id": tenant.id})
        return MaterializeResult(metadata=materialization_metadata(conversas_analytics_raw, rows_now, **summary))

    return [conversas_analytics]
