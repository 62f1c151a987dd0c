"""Standard checks of the Meta Ads tables (asset_checks/library.py), one declaration each.

Quarantined values are evaluated by the Meta asset itself (rejected_values.py)."""

from asset_checks.library import DailyHistory, TableCheck, table_checks
from vetorial_assets.meta.assets import RAW_KEY, STAGING_KEY
from vetorial_assets.warehouse.tables import insights_meta_ads, meta_ads_insights_raw

_DAYS = DailyHistory(account_column="account_id", day_column="data", pulled_by=RAW_KEY.to_user_string())

RAW = TableCheck(RAW_KEY, meta_ads_insights_raw, history=_DAYS)
STAGING = TableCheck(STAGING_KEY, insights_meta_ads, history=_DAYS)

CHECKS = [table_checks(RAW), table_checks(STAGING)]
