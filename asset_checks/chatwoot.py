"""Standard checks of the Chatwoot conversations table (asset_checks/library.py).

Quarantined values are evaluated by the Chatwoot asset itself (rejected_values.py)."""

from asset_checks.library import TableCheck, TenantHistory, table_checks
from vetorial_assets.chatwoot.assets import RAW_KEY
from vetorial_assets.warehouse.tables import conversas_analytics_raw

# rows_total counts the rows marked deleted too: so does the count now.
RAW = TableCheck(
    RAW_KEY,
    conversas_analytics_raw,
    history=TenantHistory(tenant_column="tenant_id", asset_key=RAW_KEY.to_user_string()),
)

CHECKS = [table_checks(RAW)]
