"""The `RESULT {json}` line of the run processes (tests/run_range_process.py,
tests/run_tenant_process.py), read by tests/crash_helpers.py: success, the run id, the step
errors (each with its causes) and the materializations' numeric and text metadata."""

from __future__ import annotations

import json

RESULT_PREFIX = "RESULT "


def print_result(result, by_asset: bool) -> None:
    """`materialized`: per asset key (by_asset), else the last materialization's metadata."""
    materialized: dict = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        values = {
            name: value.value
            for name, value in materialization.metadata.items()
            if isinstance(value.value, (int, float, str))
        }
        if by_asset:
            materialized[materialization.asset_key.to_user_string()] = values
        else:
            materialized = values
    errors = [_chain(event.event_specific_data.error) for event in result.all_events if event.is_step_failure]
    print(
        RESULT_PREFIX
        + json.dumps(
            {"success": result.success, "run_id": result.run_id, "errors": errors, "materialized": materialized}
        ),
        flush=True,
    )


def _chain(error) -> str:
    """The error's message and its causes', outermost first."""
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return "\n".join(messages)
