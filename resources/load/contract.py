"""The table contract of the load path: what a target table is (columns, key, volatile and
personal-data columns, read from the catalog), what a load takes (chunks, a replace scope)
and what it reports (LoadResult), and the error it raises for input that does not fit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

Chunk = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
# A scope value: one value, a (low, high) inclusive range, or a list of values.
ScopeValue = Any


class LoadError(ValueError):
    """The input does not fit the table contract; nothing was written."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int = 0
    # Values stored as NULL, and rows left out, because the table could not store a value
    # (each recorded in ops.rejected_values). `rows` counts the rows that were loaded.
    nulled: int = 0
    skipped: int = 0
    # Rows of days a pull of another run, begun later, had already applied, that differ
    # from what it stored: left as it stored them (resources/load/spool.py). Counted in `rows`,
    # in none of the counts above (the same rows count as unchanged).
    superseded: int = 0

    @classmethod
    def total(cls, table: str, results: Iterable[LoadResult]) -> LoadResult:
        """The sum of several loads of one table (e.g. one per account range of a run)."""
        results = list(results)
        return cls(
            table,
            *(
                sum(getattr(r, f) for r in results)
                for f in ("rows", "inserted", "updated", "unchanged", "deleted", "nulled", "skipped", "superseded")
            ),
        )

    def as_metadata(self) -> dict[str, int]:
        return {
            "rows_in_batch": self.rows,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_unchanged": self.unchanged,
            "rows_deleted": self.deleted,
            "values_nulled": self.nulled,
            "rows_skipped": self.skipped,
            "rows_superseded": self.superseded,
        }


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type_oid: int
    type_name: str
    required: bool  # NOT NULL without a default: the input must carry it
    nullable: bool = True  # False: NOT NULL (a NULL given for it leaves its row out)


@dataclass(frozen=True)
class TargetTable:
    schema: str
    name: str
    columns: tuple[TargetColumn, ...]
    key: tuple[str, ...]
    volatile: frozenset[str] = field(default_factory=frozenset)
    pii: frozenset[str] = field(default_factory=frozenset)  # values masked when recorded
    # Columns a digest column of the same row stands for (e.g. a payload and its content
    # hash): a merge compares the digest, not them, to tell a changed row (still writing them).
    digested: frozenset[str] = field(default_factory=frozenset)

    def compared(self, names: list[str]) -> list[str]:
        """Of `names`, the columns that tell a changed row from an identical one."""
        return [n for n in names if n not in self.key and n not in self.volatile and n not in self.digested]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> TargetColumn:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


_CATALOG_QUERY = """
SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod),
       a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AS required, NOT a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = %(rel)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_KEY_QUERY = """
SELECT a.attname
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %(rel)s::regclass AND i.indisprimary
ORDER BY k.ord
"""


def describe_table(
    conn: psycopg.Connection,
    schema: str,
    name: str,
    volatile: Iterable[str] = (),
    pii: Iterable[str] = (),
    digested: Iterable[str] = (),
) -> TargetTable:
    """Read the target's columns and primary key from the catalog (the contract)."""
    rel = sql.Identifier(schema, name).as_string(conn)
    try:
        cols = conn.execute(_CATALOG_QUERY, {"rel": rel}).fetchall()
    except psycopg.errors.UndefinedTable:
        raise LoadError(f"table {schema}.{name} does not exist (was the warehouse schema created?)") from None
    key = tuple(r[0] for r in conn.execute(_KEY_QUERY, {"rel": rel}).fetchall())
    if not key:
        raise LoadError(f"table {schema}.{name} has no primary key: the load path needs one to merge on")
    return TargetTable(
        schema=schema,
        name=name,
        columns=tuple(TargetColumn(n, oid, t, req, nullable) for n, oid, t, req, nullable in cols),
        key=key,
        volatile=frozenset(volatile),
        pii=frozenset(pii),
        digested=frozenset(digested),
    )
