"""`raw/meta_ad_accounts`: each configured ad account's metadata (name, currency, time
zone, status) from the Graph API, refreshed daily; model.dim_ad_account reads it.

One small request per account; the whole table is one load (upsert: an account whose
metadata did not change is not rewritten). An account whose request fails fails the run,
naming it; what was stored stays.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from resources.load.rejections import Quarantine
from resources.meta import MetaAdsResource
from resources.warehouse import Warehouse

from ..settings import DEFAULT_TIMEZONE
from ..tenants import Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import meta_ad_accounts_raw
from .raw_rows import canonical_json

KEY = AssetKey(["raw", "meta_ad_accounts"])
JOB_NAME = "meta_ad_accounts_refresh"
CRON = "30 5 * * *"  # daily, before the business day; metadata rarely changes


def _int_or_none(value):
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _text_or_none(value):
    return value if isinstance(value, str) else None


def account_row(account: str, body: dict) -> dict:
    """The raw row of one account's answer (the answer kept whole as the payload)."""
    return {
        "account_id": account,
        "account_name": _text_or_none(body.get("name")),
        "currency": _text_or_none(body.get("currency")),
        "timezone_name": _text_or_none(body.get("timezone_name")),
        "account_status": _int_or_none(body.get("account_status")),
        "payload": canonical_json(body),
    }


def build_meta_accounts(tenants: Tenants, default_status: DefaultScheduleStatus):
    @asset(
        key=KEY,
        group_name="meta_ads",
        kinds={"facebook", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(meta_ad_accounts_raw),
        description="Meta ad account metadata (name, currency, time zone, status) as the Graph API answers it, "
        "one row per configured account, refreshed daily.",
    )
    def meta_ad_accounts(context: AssetExecutionContext, warehouse: Warehouse, meta: MetaAdsResource):
        rows = []
        for tenant in tenants.tenants:
            for account in tenant.meta_ad_accounts:
                rows.append(account_row(account, meta.account_metadata(account, token_env=tenant.meta_token_env)))
        columns = {
            name: [row[name] for row in rows]
            for name in ("account_id", "account_name", "currency", "timezone_name", "account_status", "payload")
        }
        result = warehouse.load(
            meta_ad_accounts_raw,
            [columns],
            lock=(KEY.to_user_string(),),
            logger=context.log,
            quarantine=Quarantine(KEY.to_user_string(), None, context.run.run_id),
        )
        context.log.info(f"{KEY.to_user_string()}: {result}")
        return MaterializeResult(
            metadata=materialization_metadata(
                meta_ad_accounts_raw, warehouse.row_count(meta_ad_accounts_raw), **result.as_metadata()
            )
        )

    job = define_asset_job(
        JOB_NAME, selection=AssetSelection.assets(KEY), description="Ad account metadata of every configured account."
    )
    schedule = ScheduleDefinition(
        name="meta_ad_accounts_daily",
        job=job,
        cron_schedule=CRON,
        execution_timezone=DEFAULT_TIMEZONE,
        default_status=default_status,
        description="Refresh the ad accounts' name, currency and time zone daily.",
    )
    return meta_ad_accounts, job, schedule
