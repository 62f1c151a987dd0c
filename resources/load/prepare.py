"""Chunks made ready for COPY: the column contract, and every value converted and checked.

The first chunk of a load fixes its `Plan` (the target's columns it carries, which come
undecoded, which numeric columns are staged as float8). Each chunk then becomes rows for
COPY column by column (`prepare_chunk`): values converted to what the binary dumper of the
column's type takes, checked against the column (value_checks.py), and the ones it cannot
store NULLed, or their rows left out, with the rejections that say so (`Tally` adds them up
and records them: the load's result and ops.rejected_values).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from . import rejections as rej
from . import value_checks as vc
from .contract import Chunk, LoadError, LoadResult, TargetColumn, TargetTable
from .rejections import Quarantine, Rejection

log = logging.getLogger("vetorial.loader")


# --------------------------------------------------------------------------- chunks


def chunk_columns(chunk: Chunk) -> list[str]:
    if isinstance(chunk, pd.DataFrame):
        return [str(c) for c in chunk.columns]
    if isinstance(chunk, Mapping):
        return [str(c) for c in chunk.keys()]
    names: dict[str, None] = {}
    for row in chunk:
        names.update(dict.fromkeys(row.keys()))
    return list(names)


def chunk_len(chunk: Chunk) -> int:
    if isinstance(chunk, pd.DataFrame):
        return len(chunk)
    if isinstance(chunk, Mapping):
        first = next(iter(chunk.values()), [])
        return len(first)
    return len(chunk)


# --------------------------------------------------------------------------- chunk values


@dataclass
class Plan:
    """What every chunk of one load is prepared against (fixed by its first chunk)."""

    table: TargetTable
    cols: list[TargetColumn]
    wire: frozenset[str]
    as_float: frozenset[str]  # numeric columns staged as float8 (their values stay floats)

    def __post_init__(self):
        self.types = [vc.column_type(c.type_name) for c in self.cols]
        self.names = [c.name for c in self.cols]
        self.key_index = [self.names.index(k) for k in self.table.key if k in self.names]


@dataclass
class _Prepared:
    rows: Iterable[Sequence]
    count: int  # rows kept
    rejections: list[Rejection]
    nulled: int
    skipped: int


# A problem found in a chunk: (row index, column index, reason, the value as given).
_Problem = tuple[int, int, str, Any]


def _objects(values: Iterable, n: int) -> np.ndarray:
    # fromiter, not np.array: a column of lists (labels) must stay a column of lists.
    return np.fromiter(values, dtype=object, count=n)


def _nulls(values: Sequence, j: int) -> list[_Problem]:
    """NULLs of a NOT NULL column: looked for one by one only when there is one."""
    listed = values if isinstance(values, list) else values.tolist()
    if None not in listed:
        return []
    return [(i, j, "NULL in a NOT NULL column", None) for i, v in enumerate(listed) if v is None]


def _check_object_column(values: np.ndarray, j: int, plan: Plan) -> tuple[np.ndarray, list[_Problem]]:
    values, types = vc.normalize_missing(values)
    checked = vc.check_objects(values, plan.types[j], numbers_as_float=plan.names[j] in plan.as_float, types=types)
    problems = [(i, j, reason, values[i]) for i, reason in zip(checked.bad, checked.reasons)]
    return checked.values, problems


def _series_column(series: pd.Series, j: int, plan: Plan) -> tuple[list, list[_Problem]]:
    """Python values for one column, NULLs as None, in the shape the binary dumper wants,
    checked against the column. Typed columns are checked with numpy; object columns
    value-type by value-type (value_checks)."""
    ctype, name = plan.types[j], plan.names[j]
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or np.issubdtype(dtype, np.datetime64):
        problems = [(i, j, reason, series.iloc[i]) for i, reason in vc.check_datetimes(series, ctype)]
        if ctype.kind == "date" and not problems:
            values = series.to_numpy(dtype="datetime64[D]").astype(object)
        else:
            # The DatetimeArray's own method: an ndarray of datetimes (NaT where missing, set
            # to None below), without Series.dt.to_pydatetime's deprecation warning.
            values = series.array.to_pydatetime()
        mask = series.isna().to_numpy()
        if mask.any():
            values[mask] = None
        return values.tolist(), problems
    if np.issubdtype(dtype, np.floating):
        arr = series.to_numpy(dtype=np.float64)
        problems = [(i, j, reason, float(arr[i])) for i, reason in vc.check_floats(arr, ctype)]
        mask = np.isnan(arr)
        if problems:
            arr = arr.copy()
            arr[[p[0] for p in problems]] = np.nan
            mask = np.isnan(arr)
        if ctype.kind == "int":
            # pandas turns an integer column with NULLs into floats; binary COPY wants ints.
            out = np.empty(len(arr), dtype=object)
            out[~mask] = arr[~mask].astype(np.int64).tolist()
            out[mask] = None
            return out.tolist(), problems
        if ctype.kind == "numeric" and name not in plan.as_float:
            # Binary COPY has no float -> numeric path; repr() keeps the float's shortest digits.
            return [None if v != v else Decimal(repr(v)) for v in arr.tolist()], problems
        if mask.any():
            out = arr.astype(object)
            out[mask] = None
            return out.tolist(), problems
        return arr.tolist(), problems
    if np.issubdtype(dtype, np.integer) and (
        ctype.kind in ("int", "float") or (ctype.kind == "numeric" and name not in plan.as_float)
    ):
        arr = series.to_numpy()
        problems = [(i, j, reason, int(arr[i])) for i, reason in vc.check_ints(arr, ctype)]
        return arr.tolist(), problems
    if np.issubdtype(dtype, np.bool_) and ctype.kind == "bool":
        return series.to_numpy().tolist(), []
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(dtype, pd.CategoricalDtype):
        values = series.to_numpy(dtype=object, na_value=None)
    else:
        values = series.to_numpy(dtype=object)
    values, problems = _check_object_column(values, j, plan)
    return values.tolist(), problems


def _grid(chunk: pd.DataFrame, plan: Plan) -> tuple[np.ndarray, list[_Problem]]:
    """Python objects only (e.g. rows read from another database): one 2-D object array,
    checked column by column through views, whose rows go to COPY as they are. Wire
    columns hold bytes or None: only a NOT NULL one is looked at (for None)."""
    grid = chunk[plan.names].to_numpy()
    owned = False
    problems: list[_Problem] = []
    for j, column in enumerate(plan.cols):
        values = grid[:, j]
        if column.name not in plan.wire:
            checked, found = _check_object_column(values, j, plan)
            problems += found
            if checked is not values:
                if not owned:
                    grid, owned = grid.copy(), True
                grid[:, j] = checked
                values = grid[:, j]
        if not column.nullable:
            problems += _nulls(values, j)
    return grid, problems


def _columns(chunk: Chunk, plan: Plan) -> tuple[list[list], list[_Problem]]:
    n = chunk_len(chunk)
    problems: list[_Problem] = []
    columns = []
    for j, column in enumerate(plan.cols):
        if isinstance(chunk, pd.DataFrame):
            raw = chunk[column.name]
        elif isinstance(chunk, Mapping):
            raw = chunk[column.name]
        else:
            raw = [row.get(column.name) for row in chunk]
        if column.name in plan.wire:
            values = list(raw)
        elif isinstance(raw, pd.Series):
            values, found = _series_column(raw, j, plan)
            problems += found
        else:
            checked, found = _check_object_column(_objects(raw, n), j, plan)
            values = checked.tolist()
            problems += found
        if not column.nullable:
            problems += _nulls(values, j)
        columns.append(values)
    return columns, problems


def prepare_chunk(chunk: Chunk, plan: Plan) -> _Prepared:
    """The chunk's rows for COPY, every value checked; what cannot be stored NULLed or its
    row left out, and the rejections that say so."""
    n = chunk_len(chunk)
    if isinstance(chunk, pd.DataFrame) and (chunk.dtypes[plan.names] == object).all():  # noqa: E721 (element-wise)
        grid, problems = _grid(chunk, plan)
        if not problems:
            return _Prepared(grid.tolist(), n, [], 0, 0)
        grid = grid.copy()
        value_at = grid.__getitem__
        columns = None
    else:
        columns, problems = _columns(chunk, plan)
        if not problems:
            return _Prepared(zip(*columns), n, [], 0, 0)
        value_at = None
    table, keys = plan.table, set(plan.table.key)
    skip = sorted({i for i, j, _, _ in problems if not plan.cols[j].nullable or plan.names[j] in keys})
    skipped = set(skip)

    def key_of(i: int) -> dict[str, Any]:
        if columns is None:
            return {plan.names[k]: value_at((i, k)) for k in plan.key_index}
        return {plan.names[k]: columns[k][i] for k in plan.key_index}

    rejections = []
    nulled = 0
    for i, j, reason, value in sorted(problems, key=lambda p: (p[0], p[1])):
        name = plan.names[j]
        action = rej.ROW_SKIPPED if i in skipped else rej.NULLED
        rejections.append(
            Rejection(table.qualified, key_of(i), name, reason, rej.shown_value(value, name in table.pii), action)
        )
        if action == rej.NULLED:
            nulled += 1
            if columns is None:
                grid[i, j] = None
            else:
                columns[j][i] = None
    if columns is None:
        keep = np.ones(n, dtype=bool)
        keep[skip] = False
        rows: Iterable[Sequence] = grid[keep].tolist()
    else:
        keep_list = [True] * n
        for i in skip:
            keep_list[i] = False
        rows = itertools.compress(zip(*columns), keep_list)
    return _Prepared(rows, n - len(skip), rejections, nulled, len(skip))


@dataclass
class Tally:
    """What a load's chunks left out or NULLed, for the result and ops.rejected_values."""

    rejections: list[Rejection] = field(default_factory=list)
    nulled: int = 0
    skipped: int = 0

    def add(self, prepared: _Prepared) -> None:
        self.rejections += prepared.rejections
        self.nulled += prepared.nulled
        self.skipped += prepared.skipped

    def record(
        self,
        conn: psycopg.Connection,
        table: TargetTable,
        quarantine: Quarantine | None,
        result: LoadResult,
        logger: logging.Logger | Any,
    ) -> LoadResult:
        """The rejections tallied, with those the producer found itself (`quarantine`),
        recorded in ops.rejected_values on `conn` (the load's transaction) and summarized in
        one warning; `result` with their counts."""
        found = quarantine.take_found() if quarantine is not None else []
        rejections = found + self.rejections
        if not rejections:
            return result
        nulled = self.nulled + sum(r.action == rej.NULLED for r in found)
        skipped = self.skipped + sum(r.action == rej.ROW_SKIPPED for r in found)
        try:
            rej.record(conn, quarantine, rejections, source=table.qualified)
        except rej.RejectionsNotRecorded as exc:
            raise LoadError(f"{table.qualified}: {exc}") from None
        logger.warning(rej.summary(table.qualified, rejections, nulled, skipped))
        return dataclasses.replace(result, nulled=nulled, skipped=skipped)


# --------------------------------------------------------------------------- contract and stage


def plan_columns(table: TargetTable, given: Sequence[str], logger: logging.Logger | Any = log) -> list[TargetColumn]:
    """Apply the column contract: drop extras (warn), refuse missing required or key columns."""
    given_set = set(given)
    known = {c.name for c in table.columns}
    extra = [c for c in given if c not in known]
    required = {c.name for c in table.columns if c.required} | set(table.key)
    missing = sorted(required - given_set)
    if missing:
        raise LoadError(f"{table.qualified}: input is missing required column(s): {', '.join(missing)}")
    if extra:
        logger.warning(f"{table.qualified}: ignoring column(s) the table does not have: {', '.join(extra)}")
    return [c for c in table.columns if c.name in given_set]


@dataclass(frozen=True)
class StageType:
    """A column's type in the temp table a batch is staged in before the merge."""

    name: str  # SQL type text for the temp table
    oid: int


_FLOAT8 = StageType("float8", 701)
_TEXT = StageType("text", 25)


def _is_float_input(chunk: Chunk, name: str) -> bool:
    if isinstance(chunk, pd.DataFrame):
        return np.issubdtype(chunk[name].dtype, np.floating)
    values = chunk[name] if isinstance(chunk, Mapping) else [row.get(name) for row in chunk]
    return any(isinstance(v, float) for v in values)


def floats_staged(cols: list[TargetColumn], first_chunk: Chunk, wire: Collection[str]) -> frozenset[str]:
    """Binary COPY cannot dump a Python float as numeric: a numeric column whose first chunk
    holds floats is staged as float8 and cast to the target type in the merge (through
    its text, so the stored number is the float's shortest digits, as on the direct path)."""
    return frozenset(
        c.name
        for c in cols
        if c.type_name.startswith("numeric") and c.name not in wire and _is_float_input(first_chunk, c.name)
    )


def stage_type(column: TargetColumn, as_float: frozenset[str]) -> StageType:
    """JSON goes as text (value_checks serializes what is not) and is parsed by the
    server's cast, once."""
    if column.name in as_float:
        return _FLOAT8
    if column.type_name in ("jsonb", "json"):
        return _TEXT
    # format_type output is catalog text, not user input.
    return StageType(column.type_name, column.type_oid)
