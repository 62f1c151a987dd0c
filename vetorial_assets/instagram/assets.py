"""Instagram follower movement: `raw/ig_follows`, one row per IG account and day.

Meta only answers `follows_and_unfollows` one day at a time, may lag up to 48 h and
returns nothing for accounts under 100 followers: such a day is stored as `no_data`
(never as zeros) and the next daily run asks again.

A day whose answer cannot be parsed (a shape Meta is not documented to send, a count that
is not one) takes nothing else with it: that day is left out, recorded in
ops.rejected_values with the parser's reason and the answer (cut short), and the rest of the
range lands; a later run over that day (the daily schedule's D-1/D-2, or a backfill) asks
again.

Pull first, lock later (resources/load/spool.py): every day of the range is asked for with no
lock held and no transaction open; the rows are then applied in one short transaction under
the account's lock. A day that a run whose pull began later already applied keeps that
run's answer (an older "no data yet" never overwrites a newer count).
"""

import json
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MultiPartitionsDefinition,
    asset,
)
from pydantic import Field

from asset_checks import rejected_values as rejected_checks
from resources.load import LoadResult
from resources.load.rejections import Quarantine
from resources.load.spool import PulledRange
from resources.meta import MetaAdsResource
from resources.warehouse import Warehouse

from ..partitions import DateRange, run_date_ranges
from ..tenants import Tenants
from ..warehouse.metadata import materialization_metadata, table_definition_metadata
from ..warehouse.tables import ig_follows_raw
from .follows import parse_follows

RAW_KEY = AssetKey(["raw", "ig_follows"])
GROUP = "instagram"


class FollowsLoadConfig(Config):
    lock_wait_seconds: float = Field(
        default=300,
        ge=0,
        description="How long applying a pulled range waits for another run of the same account "
        "before failing; pulling never waits.",
    )


def follows_rows(
    meta: MetaAdsResource, rng: DateRange, token_env: str, quarantine: Quarantine | None = None
) -> dict[str, list]:
    """One row per day of the range; a day whose answer does not parse is left out and
    recorded in `quarantine` (without one, its ValueError is raised)."""
    fetched_at = datetime.now(UTC)
    cols: dict[str, list] = {
        c: []
        for c in ("ig_account_id", "data_registro", "status", "follows", "unfollows", "net", "payload", "fetched_at")
    }
    day = rng.first
    while day <= rng.last:
        response = meta.ig_follows_and_unfollows(rng.account, day, token_env=token_env)
        try:
            parsed = parse_follows(response)
        except ValueError as exc:
            if quarantine is None:
                raise ValueError(f"{rng.account} {day}: {exc}") from None
            quarantine.skip_row(
                ig_follows_raw.fullname,
                {"ig_account_id": rng.account, "data_registro": day},
                "payload",
                str(exc),
                json.dumps(response, sort_keys=True, default=repr),
            )
            day += timedelta(days=1)
            continue
        cols["ig_account_id"].append(rng.account)
        cols["data_registro"].append(day)
        cols["status"].append("ok" if parsed else "no_data")
        cols["follows"].append(parsed.follows if parsed else None)
        cols["unfollows"].append(parsed.unfollows if parsed else None)
        cols["net"].append(parsed.net if parsed else None)
        cols["payload"].append(json.dumps(response, sort_keys=True, separators=(",", ":")))
        cols["fetched_at"].append(fetched_at)
        day += timedelta(days=1)
    return cols


def build_instagram_assets(tenants: Tenants, partitions: MultiPartitionsDefinition):
    @asset(
        key=RAW_KEY,
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"instagram", "postgres"},
        owners=["team:analytics-engineering"],
        metadata=table_definition_metadata(ig_follows_raw),
        check_specs=[rejected_checks.check_spec(RAW_KEY)],
        description="Instagram follows and unfollows per account and day (metric follows_and_unfollows, "
        "breakdown follow_type); days Meta has no data for yet are stored as status='no_data'.",
    )
    def ig_follows(
        context: AssetExecutionContext, config: FollowsLoadConfig, warehouse: Warehouse, meta: MetaAdsResource
    ) -> MaterializeResult:
        results = []
        no_data = 0
        for rng in run_date_ranges(context):
            tenant = tenants.tenant_of_instagram_account(rng.account)
            quarantine = Quarantine(RAW_KEY.to_user_string(), rng.account, context.run.run_id)
            with warehouse.spooler(logger=context.log) as spooler:
                spool = spooler.spool(
                    ig_follows_raw,
                    lock=(RAW_KEY.to_user_string(), rng.account),
                    account_column="ig_account_id",
                    day_column="data_registro",
                    quarantine=quarantine,
                )
                # One row per day: the whole range is a few kB, spooled once it is all in.
                rows = follows_rows(meta, rng, tenant.meta_token_env, quarantine)
                no_data += rows["status"].count("no_data")
                spool.write(rows)
                (result,) = spooler.apply(
                    [spool],
                    PulledRange(RAW_KEY.to_user_string(), rng.account, rng.first, rng.last),
                    replace=False,
                    lock_wait_seconds=config.lock_wait_seconds,
                    run_id=context.run.run_id,
                )
            context.log.info(f"{rng.account} {rng.first}..{rng.last}: {result}")
            results.append(result)
        if no_data:
            context.log.warning(f"{no_data} account-day(s) have no data yet; the next run asks again")
        total = LoadResult.total(ig_follows_raw.fullname, results)
        with warehouse.transaction() as conn:
            check = rejected_checks.evaluate(conn, RAW_KEY, context.run.run_id)
        return MaterializeResult(
            metadata=materialization_metadata(
                ig_follows_raw, total.rows, days_without_data=no_data, **total.as_metadata()
            ),
            check_results=[check],
        )

    return [ig_follows]
