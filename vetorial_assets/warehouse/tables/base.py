"""The one MetaData every layer's tables register on, and the column helpers they share."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, func
from sqlalchemy.types import TypeEngine

SCHEMAS = ("raw", "staging", "model", "mart", "ops")

metadata = MetaData()


def fetched_at(name: str = "fetched_at") -> Column:
    """An audit timestamp the load path writes but does not compare (`volatile`)."""
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now(), info={"volatile": True})


def required(type_: type[TypeEngine] | TypeEngine, *names: str) -> list[Column]:
    """NOT NULL columns of one type, in the order given."""
    return [Column(name, type_, nullable=False) for name in names]
