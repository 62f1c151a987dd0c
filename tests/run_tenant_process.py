"""One Chatwoot sync of a tenant, in a process of its own (crash and concurrency tests).

    python tests/run_tenant_process.py TENANT [RUN_CONFIG_JSON]

The op's config is RUN_CONFIG_JSON (ChatwootSyncConfig fields); the environment names the
warehouse and the source. Prints one line `RESULT {json}`: success, run id, step errors (with causes), and
the materialization's numeric and text metadata.
"""

from __future__ import annotations

import json
import sys

# A sibling module: these scripts run as `python tests/<script>.py`.
from run_result import print_result

OP = "raw__conversas_analytics"


def main(argv: list[str]) -> int:
    tenant = argv[0]
    config = json.loads(argv[1]) if len(argv) > 1 else {}
    from dagster import DagsterInstance

    from vetorial_assets.chatwoot.schedules import JOB_NAME
    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.settings import load_settings

    defs = build_definitions(load_settings())
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(
            instance=instance,
            partition_key=tenant,
            raise_on_error=False,
            run_config={"ops": {OP: {"config": config}}} if config else None,
        )
        print_result(result, by_asset=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
