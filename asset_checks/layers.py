"""Standard checks (asset_checks/library.py) of every warehouse-layer table: staging
conversations, the model's dims and facts, the marts. One declaration per table, derived
from the table contracts: the asset of table `schema.name` is `schema/name`.

Columns (blocking), non-empty, key uniqueness, and no personal data: nothing past raw may
hold a name, phone or e-mail (staging keeps a keyed hash of the contact only). The layers'
reconciliation and integrity checks are in warehouse_meta.py and warehouse_conversations.py."""

from dagster import AssetChecksDefinition, AssetKey

from asset_checks.library import TableCheck, table_checks
from vetorial_assets.warehouse.tables import metadata

# staging.insights_meta_ads has its own (asset_checks/meta.py, meta_staging.py).
_OWN_CHECKS = {"staging.insights_meta_ads"}


def layer_checks(schema: str) -> list[AssetChecksDefinition]:
    """The standard checks of every table of `schema` (staging, model or mart)."""
    return [
        table_checks(TableCheck(AssetKey([table.schema, table.name]), table, no_pii=True))
        for table in metadata.sorted_tables
        if table.schema == schema and table.fullname not in _OWN_CHECKS
    ]
