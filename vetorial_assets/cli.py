"""`vetorial`: demo | dev | up | down | doctor | audit-payload | audit-metadata | rebuild-meta-staging."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .settings import ConfigError, load_settings


def _defs():
    from .definitions import defs

    return defs


def cmd_demo(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from .demo import FUNNEL_DAYS, lead_funnel_lines, run_demo, table_counts
    from .platform.instance import prepare_environment

    settings = load_settings()
    env = prepare_environment(settings)
    print(f"vetorial demo: VETORIAL_HOME={env['VETORIAL_HOME']} DAGSTER_HOME={env['DAGSTER_HOME']}")
    defs = _defs()
    print(f"warehouse: {defs.resources['warehouse'].describe()}")
    with DagsterInstance.get() as instance:
        ok = run_demo(defs, settings, instance)
    print("\nrows per table:")
    for name, count in table_counts(settings, defs):
        print(f"  {name:40} {count:>10,}")
    print(f"\nlead funnel, last {FUNNEL_DAYS} days per tenant (mart.lead_funnel_daily):")
    for line in lead_funnel_lines(defs):
        print(f"  {line}")
    print("\ndemo finished" if ok else "\ndemo finished WITH FAILURES (see the runs in `vetorial dev`)")
    return 0 if ok else 1


def cmd_dev(args: argparse.Namespace) -> int:
    from .platform.instance import prepare_environment
    from .platform.supervise import run_until_interrupted

    env = prepare_environment(load_settings())
    workspace = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "workspace.yaml")
    target = ["-w", workspace] if os.path.exists(workspace) else ["-m", "vetorial_assets.definitions"]
    print(
        f"Dagster UI: http://{args.host}:{args.port}  (DAGSTER_HOME={env['DAGSTER_HOME']}; Ctrl-C stops it)", flush=True
    )
    # This interpreter, not a `dagster` found on PATH: works with no venv activated, and
    # dagster dev starts its webserver, daemon and code servers with it too.
    code = run_until_interrupted(
        [sys.executable, "-m", "dagster", "dev", *target, "-h", args.host, "-p", str(args.port)]
    )
    print("Dagster stopped" if code == 0 else f"dagster dev exited with code {code}", flush=True)
    return code


def _describe_server(home, status) -> str:
    if not status.running:
        return f"embedded PostgreSQL under {home}: stopped"
    owner = (
        "pinned by `vetorial up`"
        if status.pinned
        else ("started by a vetorial/Dagster process" if status.started_by_us else "found running (left as found)")
    )
    others = [pid for pid in status.users if pid != os.getpid()]
    users = f"; in use by pid {', '.join(map(str, others))}" if others else ""
    return f"embedded PostgreSQL under {home}: running (pid {status.pid}), {owner}{users}"


def cmd_up(args: argparse.Namespace) -> int:
    from vetorial_assets.platform.embedded import pin_server

    from .platform.instance import prepare_environment

    settings = load_settings()
    env = prepare_environment(settings)
    if not settings.embedded_postgres and settings.chatwoot_url is not None:
        print("VETORIAL_WAREHOUSE_URL and VETORIAL_CHATWOOT_URL are set: no embedded server to keep running.")
        print(f"  export DAGSTER_HOME={env['DAGSTER_HOME']}")
        return 0
    status = pin_server(settings.home)
    print(_describe_server(settings.home, status))
    print("It keeps running until `vetorial down`. For the Dagster CLI in this shell:")
    print(f"  export DAGSTER_HOME={env['DAGSTER_HOME']}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from vetorial_assets.platform.embedded import unpin_server

    settings = load_settings()
    status = unpin_server(settings.home)
    print(_describe_server(settings.home, status))
    if status.running and status.users:
        print("It stops when the last of these processes ends.")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor()


def _meta_for_account(account: str):
    from .tenants import load_tenants

    settings = load_settings()
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.tenant_of_ad_account(account)
    return _defs().resources["meta"], tenant


def cmd_audit_payload(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    meta, tenant = _meta_for_account(args.account)
    until = date.fromisoformat(args.until) if args.until else date.today() - timedelta(days=1)
    since = date.fromisoformat(args.since) if args.since else until
    payload = meta.raw_insights_call(args.account, since, until, token_env=tenant.meta_token_env)
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    return 0


def cmd_audit_metadata(args: argparse.Namespace) -> int:
    meta, tenant = _meta_for_account(args.account)
    print(
        json.dumps(meta.account_metadata(args.account, token_env=tenant.meta_token_env), indent=2, ensure_ascii=False)
    )
    return 0


def cmd_rebuild_meta_staging(args: argparse.Namespace) -> int:
    from datetime import date

    from dagster import DagsterInstance

    from .meta.rebuild import execute_rebuild, plan_rebuild
    from .platform.instance import prepare_environment

    prepare_environment(load_settings())
    defs = _defs()
    since = date.fromisoformat(args.since) if args.since else None
    until = date.fromisoformat(args.until) if args.until else None
    runs = plan_rebuild(defs, args.account or None, since, until)
    if not runs:
        print("no raw Meta rows to rebuild staging from")
        return 0
    ok = True
    with DagsterInstance.get() as instance:
        for run in runs:
            result = execute_rebuild(defs, instance, run)
            ok &= result.success
            print(
                f"  {'ok' if result.success else 'FAILED':6} {run.account} {run.first}..{run.last} "
                f"(run {result.run_id[:8]})"
            )
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vetorial", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="materialize every asset end to end and print what landed").set_defaults(func=cmd_demo)
    dev = sub.add_parser("dev", help="the Dagster UI on the same configuration")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)
    sub.add_parser("up", help="start the embedded PostgreSQL and keep it running until `vetorial down`").set_defaults(
        func=cmd_up
    )
    sub.add_parser(
        "down", help="stop the embedded PostgreSQL (now, or when the last process using it ends)"
    ).set_defaults(func=cmd_down)
    sub.add_parser("doctor", help="check configuration, connectivity and source schemas").set_defaults(func=cmd_doctor)
    audit = sub.add_parser("audit-payload", help="one raw insights call, printed as JSON (token redacted)")
    audit.add_argument("account", help="ad account id, e.g. act_100000000000001")
    audit.add_argument("--since")
    audit.add_argument("--until")
    audit.set_defaults(func=cmd_audit_payload)
    meta = sub.add_parser("audit-metadata", help="account currency, time zone and attribution settings")
    meta.add_argument("account")
    meta.set_defaults(func=cmd_audit_metadata)
    rebuild = sub.add_parser(
        "rebuild-meta-staging",
        help="re-clean staging.insights_meta_ads from raw (no API call), e.g. after a rule change",
    )
    rebuild.add_argument("--account", action="append", help="ad account id (repeatable); default: every account in raw")
    rebuild.add_argument("--since", help="first day (default: the account's first raw day)")
    rebuild.add_argument("--until", help="last day (default: the account's last raw day)")
    rebuild.set_defaults(func=cmd_rebuild_meta_staging)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    # Dagster flags backfill_policy/freshness as beta/preview on every load: noise for CLI users.
    warnings.filterwarnings("ignore", message=r".*(beta|preview).*", category=Warning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # servers this command started stop at exit
        return 130


if __name__ == "__main__":
    sys.exit(main())
