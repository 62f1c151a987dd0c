"""Parsing Graph request parameters the way Graph does (arrays, cursors, date ranges, presets)."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .graph_data import BREAKDOWNS, INSIGHT_FIELDS, LEVELS, SANDBOX_TIMEZONE, InsightsShape

_VERSION = re.compile(r"^v\d+\.\d+$")
_INSIGHTS_DOC = "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/"


class GraphError(Exception):
    """Raised inside the handler to answer with a Graph error document."""

    def __init__(self, code: int, subcode: int | None = None, message: str | None = None, status: int = 400):
        super().__init__(message or str(code))
        self.code, self.subcode, self.message, self.status = code, subcode, message, status


def list_param(raw: str | None) -> list[str]:
    """Graph accepts arrays as JSON ('["a","b"]') or comma-separated text."""
    if raw is None or raw == "":
        return []
    text = raw.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            raise GraphError(100, message=f"(#100) Invalid JSON for array parameter: {text[:60]}") from None
        return [str(v).strip() for v in value]
    return [part.strip() for part in text.split(",") if part.strip()]


def split_path(raw_path: str) -> tuple[str | None, list[str]]:
    """'/v26.0/act_1/insights' -> ('v26.0', ['act_1', 'insights']); the version is optional."""
    segments = [s for s in raw_path.split("/") if s]
    version = segments.pop(0) if segments and _VERSION.match(segments[0]) else None
    return version, segments


def cursor_for(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        raise GraphError(100, message="(#100) Invalid cursor") from None


def parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise GraphError(100, message=f"(#100) {name} must be a date like 2025-01-31") from None


def preset_range(preset: str, today: date) -> tuple[date, date]:
    days = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30, "last_90d": 90}
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if preset in days:  # Meta's last_Nd ends yesterday
        return today - timedelta(days=days[preset]), today - timedelta(days=1)
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise GraphError(100, message=f"(#100) date_preset must be one of the supported presets, got {preset}")


def parse_insights_query(params: dict, today: date) -> tuple[date, date, InsightsShape]:
    """since, until and row shape of an /insights request; GraphError (code 100) when invalid."""
    fields = list_param(params.get("fields")) or ["impressions", "spend"]
    unknown = [f for f in fields if f not in INSIGHT_FIELDS]
    if unknown:
        raise GraphError(
            100,
            message=f"(#100) {unknown[0]} is not valid for fields param. "
            f"please check {_INSIGHTS_DOC} for all valid values",
        )
    level = params.get("level", "account")
    if level not in LEVELS:
        raise GraphError(100, message=f"(#100) level must be one of {', '.join(LEVELS)}")
    breakdowns = list_param(params.get("breakdowns"))
    if any(b not in BREAKDOWNS for b in breakdowns):
        raise GraphError(100, message=f"(#100) the sandbox supports breakdowns {', '.join(BREAKDOWNS)} only")
    action_breakdowns = list_param(params.get("action_breakdowns")) or ["action_type"]
    if action_breakdowns != ["action_type"]:
        raise GraphError(100, message="(#100) the sandbox supports action_breakdowns=action_type only")
    if str(params.get("time_increment", "")) != "1":
        raise GraphError(100, message="(#100) the sandbox serves daily rows only: pass time_increment=1")
    if params.get("time_range"):
        try:
            time_range = json.loads(params["time_range"])
            since, until = time_range["since"], time_range["until"]
        except (ValueError, KeyError, TypeError):
            raise GraphError(
                100, message="(#100) time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}"
            ) from None
        since, until = parse_date(since, "time_range.since"), parse_date(until, "time_range.until")
    elif params.get("time_range[since]"):
        since = parse_date(params["time_range[since]"], "time_range[since]")
        until = parse_date(params.get("time_range[until]", ""), "time_range[until]")
    else:
        since, until = preset_range(params.get("date_preset", "last_30d"), today)
    if since > until:
        raise GraphError(100, message="(#100) time_range since must be on or before until")
    return since, until, InsightsShape(fields=tuple(fields), level=level, breakdowns=tuple(breakdowns))


def ig_timestamp(raw: str | None, name: str) -> int:
    """IG since/until: a Unix timestamp, or a date (strtotime-style) meaning its local midnight."""
    if raw in (None, ""):
        raise GraphError(100, message=f"(#100) {name} is required for this metric")
    if str(raw).lstrip("-").isdigit():
        return int(raw)
    day = parse_date(raw, name)
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(SANDBOX_TIMEZONE)).timestamp())
