"""Launch a tenant's sync when its source moved: a cheap max(updated_at) probe per tenant.

The cursor remembers, per tenant, the source watermark a run was last requested for, so
an unchanged source requests nothing and each movement requests exactly one run.
"""

import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from resources.source_db import SourceDatabase
from resources.warehouse import Warehouse

from ..run_tags import TRIGGERED_BY_TAG
from ..tenants import Tenants
from .assets import RAW_KEY, _sql

MIN_INTERVAL_SECONDS = 120


def build_chatwoot_sensor(tenants: Tenants, job, minimum_interval_seconds: int = MIN_INTERVAL_SECONDS):
    @sensor(
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests a tenant's Chatwoot sync when the source's newest updated_at passes the "
        "warehouse watermark.",
    )
    def chatwoot_source_sensor(context: SensorEvaluationContext, source_db: SourceDatabase, warehouse: Warehouse):
        cursor = json.loads(context.cursor) if context.cursor else {}
        requests = []
        warehouse.ensure_schema()
        for tenant in tenants.chatwoot_tenants:
            scope = tenant.chatwoot
            source_max = source_db.max_watermark(scope.account_id, list(scope.inbox_ids))
            if source_max is None:
                continue
            with warehouse.transaction() as conn:
                stored, _ = conn.execute(
                    _sql("tenant_state.sql"), {"asset_key": RAW_KEY.to_user_string(), "tenant_id": tenant.id}
                ).fetchone()
            seen = source_max.isoformat()
            if (stored is None or source_max > stored) and cursor.get(tenant.id) != seen:
                cursor[tenant.id] = seen
                requests.append(
                    RunRequest(
                        run_key=f"{tenant.id}:{seen}", partition_key=tenant.id, tags={TRIGGERED_BY_TAG: "sensor"}
                    )
                )
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        return requests or SkipReason("no tenant's source moved past its watermark")

    return chatwoot_source_sensor
