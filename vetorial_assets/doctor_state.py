"""What `vetorial doctor` says about the data, from the Dagster instance: each asset's freshness
(judged as the freshness sensor judges it: on its newest partitions) and the checks whose latest
evaluation failed. A check failed at ERROR fails the report; at WARN, and a stale or late
asset, warns."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from dagster import AssetCheckSeverity

from .alerts.checks import evaluation_of, latest_result
from .alerts.freshness import STALE, WARN, judge, now_utc
from .source import Check, DoctorWarning


def _age(age: timedelta) -> str:
    if age == timedelta.max:
        return "never materialized"
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def freshness_checks(defs, instance) -> list[tuple[str, Check]]:
    """One line per asset with a freshness policy: fresh, or which newest partitions are late."""
    by_asset = defaultdict(list)
    for judged in judge(defs.resolve_asset_graph(), instance, now_utc()):
        by_asset[judged.key].append(judged)

    def check_of(key, judged):
        def check() -> str:
            stale = [j for j in judged if j.state == STALE]
            late = [j for j in judged if j.state == WARN]
            oldest = max(judged, key=lambda j: j.age)
            if stale or late:
                worst = stale or late
                names = ", ".join(j.partition or "-" for j in worst[:5]) + (" ..." if len(worst) > 5 else "")
                raise DoctorWarning(
                    f"{'stale' if stale else 'late'} ({len(worst)} of {len(judged)} newest "
                    f"partitions: {names}; oldest {_age(oldest.age)})"
                )
            return f"fresh ({len(judged)} newest partition(s), oldest {_age(oldest.age)})"

        return check

    def not_yet() -> str:
        return "not materialized yet"

    graph = defs.resolve_asset_graph()
    keys = sorted(
        (n.key for n in graph.asset_nodes if n.freshness_policy is not None and n.is_materializable),
        key=lambda k: k.to_user_string(),
    )
    return [
        (f"freshness {key.to_user_string()}", check_of(key, by_asset[key]) if by_asset.get(key) else not_yet)
        for key in keys
    ]


class FailedCheck(Exception):
    """A check whose latest evaluation failed at ERROR severity."""


def failed_checks(defs, instance) -> Check:
    """The checks whose latest evaluation failed, with their descriptions."""

    def check() -> str:
        keys = sorted(defs.resolve_asset_graph().asset_check_keys, key=lambda k: k.to_user_string())
        errors, warnings, evaluated = [], [], 0
        for key in keys:
            record = latest_result(instance, key)
            if record is None:
                continue
            evaluated += 1
            evaluation = evaluation_of(record)
            if evaluation is None or evaluation.passed:
                continue
            line = f"{key.to_user_string()}" + (f" ({evaluation.description})" if evaluation.description else "")
            (errors if evaluation.severity == AssetCheckSeverity.ERROR else warnings).append(line)
        if errors:
            raise FailedCheck(
                f"{len(errors)} failed at ERROR: "
                + "; ".join(errors)
                + (f"; {len(warnings)} at WARN: " + "; ".join(warnings) if warnings else "")
            )
        if warnings:
            raise DoctorWarning(f"{len(warnings)} failed at WARN: " + "; ".join(warnings))
        return f"latest evaluations pass ({evaluated} of {len(keys)} checks evaluated)"

    return check
