"""Helpers of the fault and secrets suites: resources swapped into the real definitions,
table fingerprints to prove "nothing half-written", the root cause of a failed run."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import psycopg
from dagster import Definitions
from psycopg import sql


class Sleeps(list):
    """Records the sleeps a resource asks for instead of sleeping (its injectable hook)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def with_resources(defs: Definitions, **resources) -> Definitions:
    """The same definitions with some resources replaced (e.g. a MetaAdsResource with a sleep hook)."""
    return Definitions(
        assets=defs.assets,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources={**(defs.resources or {}), **resources},
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def columns(conn: psycopg.Connection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " ORDER BY ordinal_position",
            (schema, name),
        )
    ]


def fingerprint(conn: psycopg.Connection, table: str, exclude: Sequence[str] = ()) -> tuple[int, str | None]:
    """(row count, md5 over every row's text in a fixed order) of `table`, without the
    `exclude`d columns (audit timestamps a re-run rewrites). Equal fingerprints: equal tables."""
    cols = [c for c in columns(conn, table) if c not in exclude]
    if not cols:
        raise ValueError(f"{table} has no columns (does it exist?)")
    schema, name = table.split(".")
    query = sql.SQL(
        "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM (SELECT {} FROM {}) t"
    ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(schema, name))
    count, digest = conn.execute(query).fetchone()
    return count, digest


def fingerprints(db, tables: Sequence[str], exclude: Sequence[str] = ()) -> dict[str, tuple[int, str | None]]:
    with db.connect() as conn:
        return {table: fingerprint(conn, table, exclude) for table in tables}


def root_cause(result) -> str:
    """The innermost error message of a failed in-process run (Dagster wraps the asset's)."""
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the run has no failed step"
    error = failures[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message}"
