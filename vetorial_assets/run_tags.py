"""What started a run, in the seed's words (schedule | sensor | manual | backfill)."""

from __future__ import annotations

from collections.abc import Mapping

TRIGGERED_BY_TAG = "vetorial/triggered_by"


def triggered_by(tags: Mapping[str, str]) -> str:
    if tags.get(TRIGGERED_BY_TAG):
        return tags[TRIGGERED_BY_TAG]
    if "dagster/backfill" in tags:
        return "backfill"
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return "manual"
