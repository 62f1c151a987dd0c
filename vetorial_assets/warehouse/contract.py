"""The warehouse contract's column types as PostgreSQL's format_type() prints them.

For comparisons that cannot (or need not) read the live catalog, e.g. `vetorial doctor`
comparing a source's types with what the warehouse will have after its schema pass. A
test holds them equal to the catalog of a freshly created warehouse.
"""

from __future__ import annotations

import re

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()
_NAMES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "NUMERIC": "numeric",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "JSONB": "jsonb",
    "JSON": "json",
    "FLOAT": "double precision",
    "DOUBLE PRECISION": "double precision",
    "REAL": "real",
    "VARCHAR": "character varying",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp without time zone",
}
_COMPILED = re.compile(r"(?P<base>[A-Z ]+?)(?:\((?P<mod>[^)]*)\))?(?P<array>(\[\])*)")


def format_type(compiled: str) -> str:
    match = _COMPILED.fullmatch(compiled.strip())
    if not match or match.group("base").strip() not in _NAMES:
        return compiled.lower()
    name = _NAMES[match.group("base").strip()]
    if match.group("mod"):
        name += "(" + match.group("mod").replace(" ", "") + ")"
    return name + match.group("array")


def column_types(table: Table) -> dict[str, str]:
    """{column: format_type text} of the contract's table."""
    return {c.name: format_type(c.type.compile(dialect=_DIALECT)) for c in table.columns}
