"""What the Dagster UI shows about a table that landed: name, columns, row counts."""

from __future__ import annotations

from typing import Any

from dagster import TableColumn, TableColumnConstraints, TableSchema
from sqlalchemy import Table


def column_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(
                name=col.name,
                type=str(col.type).lower(),
                description=col.comment,
                constraints=TableColumnConstraints(
                    nullable=col.nullable, unique=bool(col.primary_key and len(table.primary_key.columns) == 1)
                ),
            )
            for col in table.columns
        ]
    )


def table_definition_metadata(table: Table) -> dict[str, Any]:
    """Static metadata for the asset definition (shown before anything ran)."""
    return {"dagster/table_name": table.fullname, "dagster/column_schema": column_schema(table)}


def materialization_metadata(table: Table, row_count: int, **extra: Any) -> dict[str, Any]:
    return {
        "dagster/table_name": table.fullname,
        "dagster/column_schema": column_schema(table),
        "dagster/row_count": row_count,
        **extra,
    }
