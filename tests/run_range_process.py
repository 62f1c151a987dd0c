"""One run of a date x account job over a range, in a process of its own (crash and concurrency tests).

    python tests/run_range_process.py JOB ACCOUNT FIRST LAST [RUN_CONFIG_JSON]

The environment names the warehouse, the Graph API and the token, as a run launcher passes the
deployment's. Prints one line `RESULT {json}`: success, the run id, the step error if any, and
per asset key the numeric and text values of its materialization metadata.
"""

from __future__ import annotations

import json
import sys

RESULT_PREFIX = "RESULT "


def main(argv: list[str]) -> int:
    job, account, first, last = argv[:4]
    run_config = json.loads(argv[4]) if len(argv) > 4 else {}
    from dagster import DagsterInstance

    from vetorial_assets.definitions import build_definitions
    from vetorial_assets.partitions import range_tags

    defs = build_definitions()
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, tags=range_tags(account, first, last), run_config=run_config, raise_on_error=False
        )
        materialized = {}
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            materialized[materialization.asset_key.to_user_string()] = {
                name: value.value
                for name, value in materialization.metadata.items()
                if isinstance(value.value, (int, float, str))
            }
        errors = [event.event_specific_data.error.message for event in result.all_events if event.is_step_failure]
    print(
        RESULT_PREFIX
        + json.dumps(
            {"success": result.success, "run_id": result.run_id, "errors": errors, "materialized": materialized}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
