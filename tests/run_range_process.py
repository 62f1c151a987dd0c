"""One run of a date x account job over a range, in a process of its own (crash and concurrency tests).

    python tests/run_range_process.py JOB ACCOUNT FIRST LAST [RUN_CONFIG_JSON [ASSET_KEYS]]

ASSET_KEYS: the assets to run, comma-separated user strings (default: the whole job).

The environment names the warehouse, the Graph API and the token, as a run launcher passes the
deployment's. Prints one line `RESULT {json}`: success, the run id, the step errors if any (each with its causes), and
per asset key the numeric and text values of its materialization metadata.
"""

from __future__ import annotations

import json
import sys

# A sibling module: these scripts run as `python tests/<script>.py`.
from run_result import print_result


def main(argv: list[str]) -> int:
    job, account, first, last = argv[:4]
    run_config = json.loads(argv[4]) if len(argv) > 4 else {}
    from dagster import AssetKey, DagsterInstance

    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.partitions import range_tags

    selection = [AssetKey.from_user_string(key) for key in argv[5].split(",")] if len(argv) > 5 else None
    defs = build_definitions()
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance,
            tags=range_tags(account, first, last),
            run_config=run_config,
            raise_on_error=False,
            asset_selection=selection,
        )
        print_result(result, by_asset=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
