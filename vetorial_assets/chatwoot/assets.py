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

import numpy as np
from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, StaticPartitionsDefinition, asset
from psycopg import sql
from pydantic import Field

from asset_checks import rejected_values as rejected_checks
from resources.load import LoadResult, TargetTable, advisory_xact_lock
from resources.load import engine as loader
from resources.load.progress import Progress
from resources.load.rejections import Quarantine
from resources.source.relation import SourceRelation
from resources.source_db import SourceDatabase
from resources.warehouse import Warehouse, describe_target

from ..run_tags import triggered_by
from ..tenants import Tenant, Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import conversas_analytics_raw
from . import control
from .source_types import TypeComparison, compare
from .transform import DECODED_COLUMNS, SOURCE_COLUMNS, int_keys, newest, to_raw_frame

RAW_KEY = AssetKey(["raw", "conversas_analytics"])
GROUP = "chatwoot"


def _sql(name: str) -> str:
    return pkg_resources.files("vetorial_assets.chatwoot").joinpath("sql", name).read_text(encoding="utf-8")


class ChatwootSyncConfig(Config):
    full_refresh: bool = Field(default=False, description="Ignore the watermark and read the tenant's whole source.")
    reconcile: bool = Field(
        default=False,
        description="Re-read everything (unchanged rows are not rewritten) and "
        "mark conversations deleted in the source.",
    )
    overlap_minutes: int = Field(default=15, ge=0, description="Re-read this far behind the watermark.")
    chunk_rows: int = Field(
        default=10_000,
        ge=10,
        description="Most rows per streamed chunk (bounds memory); the first fetches are smaller.",
    )
    lock_wait_seconds: float = Field(
        default=300, ge=0, description="How long a second run of the same tenant waits for the first before failing."
    )


def target_table(conn) -> TargetTable:
    return describe_target(conn, conversas_analytics_raw)


def compare_types(rel: SourceRelation, target: TargetTable) -> TypeComparison:
    """The source relation's column types against the warehouse table's (see
    chatwoot/source_types.py); `vetorial doctor` runs the same comparison."""
    return compare(
        rel, {c.name: c.type_name for c in target.columns}, SOURCE_COLUMNS, {c.name: c.type_oid for c in target.columns}
    )


def wire_columns(types: TypeComparison, conn) -> dict[str, int]:
    """The columns read undecoded from the source and COPYed as read ({name: source type
    oid}): the ones this asset never looks at whose source type, modifier included, is one
    every value of which the warehouse column stores in the same binary format (numeric into
    numeric(6,4) is not: COPY would apply the typmod and fail the batch on one value).
    Decoding text[], numeric or text values into Python and encoding them back cost more
    than the rest of a row. Wire text is UTF-8 (the source sessions' encoding): only into a
    UTF-8 session."""
    if conn.info.encoding != "utf-8":
        return {}
    return types.wire(DECODED_COLUMNS)


def _load(
    conn,
    target: TargetTable,
    chunks,
    tenant: Tenant,
    logger,
    had_rows: bool,
    wire: dict[str, int],
    quarantine: Quarantine,
    progress: Progress | None = None,
) -> LoadResult:
    """The tenant's rows into the warehouse (the schema is ensured by the caller; the tenant
    lock is held). Chatwoot numbers conversations with one sequence across accounts, and a
    conversation never changes account: the account is a scope no other row shares a key
    with, so a first load COPYs straight in even next to other tenants' rows (docs/design.md,
    "Measurements behind the code"). A tenant has rows exactly when it
    has a watermark (`had_rows`): no need to look (a scan through the other tenants' rows)."""
    return loader.load_stream(
        conn,
        target,
        chunks,
        scope={"account_id": tenant.chatwoot.account_id},
        scope_has_rows=had_rows,
        wire=wire,
        logger=logger,
        quarantine=quarantine,
        progress=progress,
    )


def _row_count(conn, tenant_id: str) -> int:
    table = sql.Identifier(conversas_analytics_raw.schema, conversas_analytics_raw.name)
    return conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE tenant_id = %s").format(table), (tenant_id,)).fetchone()[
        0
    ]


def _mark_deleted(conn, tenant: Tenant, keys: list[np.ndarray]) -> int:
    """Mark the tenant's rows whose key the source snapshot just read did not have."""
    conn.execute("CREATE TEMP TABLE _source_keys (conversation_id bigint PRIMARY KEY) ON COMMIT DROP")
    with conn.cursor().copy("COPY _source_keys (conversation_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8"])
        for chunk in keys:
            for key in chunk.tolist():
                copy.write_row((key,))
    deleted = conn.execute(_sql("mark_deleted.sql"), {"tenant_id": tenant.id}).rowcount
    conn.execute(sql.SQL("DROP TABLE _source_keys"))
    return deleted


def _rows_now(
    conn, tenant_id: str, counts: control.RunCounts, had_rows: bool, read_all: bool, last_total: int | None
) -> int:
    """The tenant's row count after this load. A first load's is the batch's. An incremental
    one adds its inserts to the count the last committing run recorded in ops.etl_control
    (rows are marked deleted, never removed, and the lock kept other runs out since):
    counting the tenant's rows scans the table, longer than loading 1% of them. Full and
    reconciling runs count, and so does a run after one that recorded no count."""
    if not had_rows:
        return counts.extracted
    if not read_all and last_total is not None:
        return last_total + counts.inserted
    return _row_count(conn, tenant_id)


def sync_tenant(
    context: AssetExecutionContext,
    config: ChatwootSyncConfig,
    warehouse: Warehouse,
    source_db: SourceDatabase,
    tenant: Tenant,
) -> tuple[int, dict]:
    """Sync one tenant; returns its row count in the warehouse and the run summary."""
    asset_key = RAW_KEY.to_user_string()
    scope = tenant.chatwoot
    warehouse.ensure_schema()
    engine = warehouse.engine()
    started = time.monotonic()
    params = {"asset_key": asset_key, "tenant_id": tenant.id}
    run_id = context.run.run_id
    control_id = None
    try:
        with warehouse.bulk_transaction() as conn:
            # This transaction holds the run's claim from before its `running` row exists until
            # the run ends, however it ends: the next run can tell a dead run's row from a live one.
            control.claim_run(conn, run_id, tenant.id)
            previous, _ = conn.execute(_sql("tenant_state.sql"), params).fetchone()
            expected = control.load_type(config.full_refresh, config.reconcile, previous)
            control_id = control.start_run(
                engine,
                execution_id=run_id,
                asset_key=asset_key,
                tenant_id=tenant.id,
                load_type=expected,
                triggered_by=triggered_by(context.run.tags),
                watermark_start=None if expected == "full" else previous,
            )
            # Fails with every missing column named, before anything is read or written.
            rel = source_db.describe()
            extra = source_db.verify_schema(SOURCE_COLUMNS, rel)
            if extra:
                context.log.warning(f"source has column(s) the warehouse does not load: {', '.join(extra)}")
            counts = control.RunCounts()
            advisory_xact_lock(conn, asset_key, tenant.id, timeout_seconds=config.lock_wait_seconds)
            # Under the lock no other run of the tenant is live: close the rows of dead ones.
            for abandoned in control.close_abandoned(
                engine, asset_key=asset_key, tenant_id=tenant.id, current_id=control_id, closed_by=run_id
            ):
                context.log.warning(
                    f"{tenant.id}: closed the 'running' row of run {abandoned} as failed: "
                    f"it was abandoned (its process is gone)"
                )
            # Re-read under the lock: a run that waited continues from the first one's watermark,
            # and its audit row says what it does now, not what it expected before waiting.
            watermark, last_total = conn.execute(_sql("tenant_state.sql"), params).fetchone()
            full = config.full_refresh or watermark is None
            load_type = control.load_type(config.full_refresh, config.reconcile, watermark)
            control.record_load_type(engine, control_id, load_type, None if full else watermark)
            read_all = full or config.reconcile
            since = None if read_all else watermark - timedelta(minutes=config.overlap_minutes)
            newest_seen = [watermark]
            # A tenant's rows are committed only with a success row carrying their newest
            # updated_at, and never removed (deletions are marked): it has rows exactly when it
            # has a watermark. Deletions are marked against the keys of the very snapshot just
            # read. When the warehouse held nothing for the tenant before this transaction,
            # every row it holds afterwards came from that snapshot: nothing to mark, no key to
            # keep, and the tenant's row count is the batch's.
            had_rows = watermark is not None
            keys: list[np.ndarray] | None = [] if read_all and had_rows else None
            target = target_table(conn)
            # Before anything is read: a column no value of which fits fails the run, naming
            # it; one some values of which may not fit is named once, and each value that
            # does not is quarantined by the load path.
            types = compare_types(rel, target)
            types.raise_if_incompatible()
            if types.warning():
                context.log.warning(types.warning())
            wire = wire_columns(types, conn)
            coerce = types.coercions()
            quarantine = Quarantine(asset_key, tenant.id, run_id)

            def chunks():
                # Unordered: the whole read commits in this one transaction and the watermark is
                # the max over every chunk, written only at the end, so the order in which rows
                # arrive cannot matter; it spares the source a sort of the tenant's rows.
                for rows in source_db.stream(
                    SOURCE_COLUMNS,
                    scope.account_id,
                    list(scope.inbox_ids),
                    since,
                    chunk_rows=config.chunk_rows,
                    ordered=False,
                    wire=wire,
                ):
                    frame = to_raw_frame(rows, SOURCE_COLUMNS, tenant.id, coerce=coerce)
                    newest_seen.append(newest(frame["conversation_updated_at"].to_numpy()))
                    if keys is not None:
                        # A row left out for a bad value keeps its key here: it is not marked
                        # deleted, and the next reconciling run reads it again.
                        keys.append(int_keys(frame["conversation_id"].to_numpy()))
                    yield frame

            # The source's count of what this run reads: the progress lines' total and estimate.
            progress = Progress(
                f"{tenant.id} ({load_type})",
                context.log,
                total=source_db.count(scope.account_id, list(scope.inbox_ids), since),
            )
            result = _load(conn, target, chunks(), tenant, context.log, had_rows, wire, quarantine, progress)
            counts.add(result)
            if keys is not None:
                counts.deleted = _mark_deleted(conn, tenant, keys)
            rows_now = _rows_now(conn, tenant.id, counts, had_rows, read_all, last_total)
            watermark_end = max((w for w in newest_seen if w is not None), default=None)
            control.finish_success(
                conn,
                control_id,
                counts,
                None if full else watermark,
                watermark_end,
                rows_now,
                started,
                time.monotonic(),
            )
    except BaseException as exc:
        if control_id is not None:
            control.finish_failed(engine, control_id, exc, started, time.monotonic(), redact=source_db.redact)
        raise
    context.log.info(f"{tenant.id}: {counts} watermark {watermark} -> {watermark_end}")
    return rows_now, {
        "tenant_id": tenant.id,
        "load_type": load_type,
        "rows_extracted": counts.extracted,
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_unchanged": counts.unchanged,
        "rows_deleted": counts.deleted,
        "values_nulled": result.nulled,
        "rows_skipped": result.skipped,
        "watermark_start": str(watermark) if watermark else "none",
        "watermark_end": str(watermark_end) if watermark_end else "none",
        **progress.metadata(),
    }


def build_chatwoot_assets(tenants: Tenants, partitions: StaticPartitionsDefinition):
    @asset(
        key=RAW_KEY,
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(conversas_analytics_raw),
        check_specs=[rejected_checks.check_spec(RAW_KEY)],
        description="Chatwoot conversations from vw_conversations_analytics_final, synced incrementally per "
        "tenant by watermark (conversation_updated_at); deletions in the source are marked "
        "deleted_at. Every run is audited in ops.etl_control.",
    )
    def conversas_analytics(
        context: AssetExecutionContext, config: ChatwootSyncConfig, warehouse: Warehouse, source_db: SourceDatabase
    ) -> MaterializeResult:
        tenant = tenants.by_id(context.partition_key)
        rows_now, summary = sync_tenant(context, config, warehouse, source_db, tenant)
        with warehouse.transaction() as conn:
            check = rejected_checks.evaluate(conn, RAW_KEY, context.run.run_id)
        return MaterializeResult(
            metadata=materialization_metadata(conversas_analytics_raw, rows_now, **summary), check_results=[check]
        )

    return [conversas_analytics]
