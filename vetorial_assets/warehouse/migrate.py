"""Numbered schema migrations: each applied once, in order, and recorded.

`create_all` creates missing tables in their current form but never alters an existing
one. A change to an existing table is a file `migrations/NNNN_what.sql`, applied once per
warehouse (inside the schema pass's DDL lock and transaction) and recorded in
`ops.schema_migrations`. A migration must also leave a table that already has its target
form as it is: a table `create_all` made in the same pass (a warehouse older than that
table) goes through every migration not yet recorded.

A warehouse whose tables were all created in this pass is current by construction: its
migrations are recorded without running. Views are not migrations: they are re-created
from `sql/` on every schema pass, after the migrations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources as pkg_resources

from sqlalchemy import Connection, insert, select

from .tables import schema_migrations

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True)
class Migration:
    version: str  # the file name without .sql
    sql: str


def migrations() -> list[Migration]:
    """Every migration file, in order; a misnamed file or a repeated number is an error."""
    folder = pkg_resources.files("vetorial_assets.warehouse").joinpath("migrations")
    found: list[Migration] = []
    numbers: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.fullmatch(entry.name)
        if not match:
            raise ValueError(f"migration file {entry.name!r} is not named NNNN_lowercase_words.sql")
        if match.group(1) in numbers:
            raise ValueError(f"migrations {numbers[match.group(1)]!r} and {entry.name!r} share a number")
        numbers[match.group(1)] = entry.name
        found.append(Migration(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return found


def apply_pending(conn: Connection, fresh: bool) -> list[str]:
    """Apply (or, on a `fresh` warehouse, only record) the migrations not recorded yet, in
    order; returns the versions applied. `conn` holds the schema pass's DDL lock."""
    applied = set(conn.execute(select(schema_migrations.c.version)).scalars())
    done = []
    for migration in migrations():
        if migration.version in applied:
            continue
        if not fresh:
            conn.exec_driver_sql(migration.sql)
            done.append(migration.version)
        conn.execute(insert(schema_migrations).values(version=migration.version))
    return done
