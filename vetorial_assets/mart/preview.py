"""A Markdown table of a mart's newest rows, for the materialization's metadata."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg import sql
from sqlalchemy import Table

PREVIEW_ROWS = 10


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return format(round(value, 4).normalize(), "f")
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_preview(
    conn: psycopg.Connection, table: Table, columns: list[str], newest_first: list[str], limit: int = PREVIEW_ROWS
) -> str:
    cur = conn.execute(
        sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.Identifier(table.schema, table.name),
            sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c)) for c in newest_first),
            sql.Literal(limit),
        )
    )
    rows = cur.fetchall()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join("" for _ in columns) + " |")
    return "\n".join(lines)
