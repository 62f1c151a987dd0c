"""Standard checks of the Instagram follows table (asset_checks/library.py)."""

from asset_checks.library import DailyHistory, TableCheck, table_checks
from vetorial_assets.instagram.assets import RAW_KEY
from vetorial_assets.warehouse.tables import ig_follows_raw

RAW = TableCheck(
    RAW_KEY,
    ig_follows_raw,
    quarantined=True,
    history=DailyHistory(
        account_column="ig_account_id", day_column="data_registro", pulled_by=RAW_KEY.to_user_string()
    ),
)

CHECKS = [table_checks(RAW)]
