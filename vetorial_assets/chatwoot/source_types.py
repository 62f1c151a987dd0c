"""The Chatwoot source's column types against the warehouse's (pure: catalog text in, verdicts out).

Checked before a sync reads anything, and by `vetorial doctor`. Per column:

- `fits`: every value of the source type can be stored (same type, or a wider one: int4
  into bigint, numeric(6,4) into numeric, varchar(20) into text, a number into text).
- `may_not_fit`: some values can, some cannot (numeric into bigint: 2.5 or 1e30; text into
  bigint: '42' but not 'abc'; int8 into integer). The sync logs one warning naming these
  and reads on: each value that does not fit is quarantined by the load path (NULLed or
  its row left out, recorded in ops.rejected_values). Text is parsed here, per value,
  into the warehouse column's kind (`coerce`); what does not parse is left for the load
  path to refuse.
- `incompatible`: no value could be stored (boolean into timestamptz, a date into bigint):
  the sync fails before reading, naming each such column with both types.

`wire`: the source's binary values are the warehouse column's own format and every one of
them fits (same type oid, and the warehouse column has no modifier or the same one): they
are copied undecoded. numeric into numeric(6,4) is not wire: COPY would apply the typmod
and fail the whole batch on one value, so such values are decoded and checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from resources.load.value_checks import ColumnType, column_type
from resources.source.errors import SourceSchemaError
from resources.source.relation import TIMESTAMP, SourceRelation

FITS = "fits"
MAY_NOT_FIT = "may_not_fit"
INCOMPATIBLE = "incompatible"

# Source types read as another one: naive timestamps come AT TIME ZONE, as timestamptz.
_READ_AS = {TIMESTAMP: "timestamp with time zone"}
# (source type oid, warehouse type oid) pairs with one binary format: varchar is sent as text is.
_SAME_BINARY = {(1043, 25)}
_SCALARS = ("int", "numeric", "float", "bool")


class SourceTypeError(SourceSchemaError):
    """A source column's type has no value the warehouse column could store."""


# --------------------------------------------------------------------------- coercion
# Decoded source values toward the warehouse column's kind, value by value, only for the
# columns whose types differ. A value that does not convert is left as it is: the load
# path refuses it with its reason (and records it).


def _convert(values: np.ndarray, one: Callable) -> np.ndarray:
    out = values.copy()
    for i, value in enumerate(values.tolist()):
        if value is not None:
            try:
                out[i] = one(value)
            except (ValueError, TypeError, ArithmeticError):
                pass  # left as it is: the load path refuses it, naming why
    return out


_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")  # as PostgreSQL reads a bigint: ASCII digits only
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


def _text_to_int(value):
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return value


def _text_to_numeric(value):
    if isinstance(value, str):
        return Decimal(value.strip())
    return value


def _text_to_float(value):
    return float(value) if isinstance(value, str) else value


def _text_to_bool(value):
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    return value


def _text_to_date(value):
    return date.fromisoformat(value.strip()) if isinstance(value, str) else value


def _to_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value) if isinstance(value, (int, Decimal)) else value


_FROM_TEXT = {
    "int": _text_to_int,
    "numeric": _text_to_numeric,
    "float": _text_to_float,
    "bool": _text_to_bool,
    "date": _text_to_date,
}


def _coercer(source: ColumnType, target: ColumnType) -> Callable[[np.ndarray], np.ndarray] | None:
    if source.kind == "text" and target.kind in _FROM_TEXT:
        one = _FROM_TEXT[target.kind]
    elif source.kind in _SCALARS and target.kind == "text":
        one = _to_text
    else:
        return None
    return lambda values: _convert(values, one)


# --------------------------------------------------------------------------- verdicts


def _verdict(s: ColumnType, w: ColumnType) -> str:
    if s.name == w.name:
        return FITS
    pair = (s.kind, w.kind)
    if pair == ("int", "int"):
        return FITS if s.bits <= w.bits else MAY_NOT_FIT
    if pair == ("int", "numeric"):
        return FITS if w.precision is None else MAY_NOT_FIT
    if pair == ("int", "float"):
        return FITS if s.bits <= (32 if w.bits == 64 else 16) else MAY_NOT_FIT
    if pair == ("numeric", "numeric"):
        if w.precision is None:
            return FITS
        if s.precision is not None and s.precision - s.scale <= w.precision - w.scale and s.scale <= w.scale:
            return FITS
        return MAY_NOT_FIT
    if pair in (("numeric", "int"), ("numeric", "float"), ("float", "int")):
        return MAY_NOT_FIT
    if pair == ("float", "numeric"):
        return FITS if w.precision is None else MAY_NOT_FIT
    if pair == ("float", "float"):
        return FITS if s.bits <= w.bits else MAY_NOT_FIT
    if pair == ("text", "text"):
        return FITS if w.length is None or (s.length is not None and s.length <= w.length) else MAY_NOT_FIT
    if s.kind == "text" and w.kind in (*_FROM_TEXT, "json", "timestamptz"):
        return MAY_NOT_FIT
    if s.kind in _SCALARS and w.kind == "text":
        return FITS if w.length is None else MAY_NOT_FIT
    if pair in (("bool", "bool"), ("date", "date"), ("timestamptz", "timestamptz"), ("json", "json")):
        return FITS
    if pair == ("array", "array") and s.element is not None and w.element is not None:
        inner = _verdict(s.element, w.element)
        return inner if s.element.kind == w.element.kind else INCOMPATIBLE
    return INCOMPATIBLE


@dataclass(frozen=True)
class ColumnMatch:
    column: str
    source: str  # the source's declared type (as read: naive timestamps as timestamptz)
    warehouse: str
    verdict: str
    wire: bool = False
    coerce: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)

    def describe(self) -> str:
        return f"{self.column} ({self.source} -> {self.warehouse})"


@dataclass(frozen=True)
class TypeComparison:
    relation: str
    matches: tuple[ColumnMatch, ...]
    source_oids: Mapping[str, int] = field(default_factory=dict, compare=False)

    def _with(self, verdict: str) -> list[ColumnMatch]:
        return [m for m in self.matches if m.verdict == verdict]

    @property
    def incompatible(self) -> list[ColumnMatch]:
        return self._with(INCOMPATIBLE)

    @property
    def may_not_fit(self) -> list[ColumnMatch]:
        return self._with(MAY_NOT_FIT)

    def raise_if_incompatible(self) -> None:
        bad = self.incompatible
        if bad:
            raise SourceTypeError(
                f"source relation {self.relation}: {len(bad)} column(s) have a type no value of which the "
                f"warehouse column can store: {'; '.join(m.describe() for m in bad)}"
            )

    def warning(self) -> str | None:
        risky = self.may_not_fit
        if not risky:
            return None
        return (
            f"source relation {self.relation}: some values of {len(risky)} column(s) may not fit the "
            f"warehouse: {'; '.join(m.describe() for m in risky)}; each one that does not is stored as NULL "
            "(or its row left out) and recorded in ops.rejected_values"
        )

    def wire(self, decoded: Sequence[str] = ()) -> dict[str, int]:
        """{column: source type oid} of the columns that may be read undecoded."""
        return {m.column: self.source_oids[m.column] for m in self.matches if m.wire and m.column not in decoded}

    def coercions(self) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        return {m.column: m.coerce for m in self.matches if m.coerce is not None}


def compare(
    rel: SourceRelation,
    warehouse: Mapping[str, str],
    columns: Sequence[str],
    warehouse_oids: Mapping[str, int] | None = None,
) -> TypeComparison:
    """Compare the source `columns` (as described from its catalog) with the warehouse
    column types (`warehouse`: name -> format_type text; `warehouse_oids`: name -> type oid,
    needed to decide which columns may be read undecoded)."""
    matches = []
    for name in columns:
        if name not in rel.columns or name not in warehouse:
            continue  # missing columns are verify_schema's to report
        declared = rel.declared.get(name) or rel.columns[name]
        if rel.columns[name] == TIMESTAMP:
            declared = _READ_AS[TIMESTAMP]
        s, w = column_type(declared), column_type(warehouse[name])
        verdict = _verdict(s, w)
        wire = False
        if verdict == FITS and warehouse_oids is not None:
            s_oid, w_oid = rel.type_oids.get(name), warehouse_oids.get(name)
            wire = (s_oid == w_oid and (s.name == w.name or "(" not in w.name)) or (s_oid, w_oid) in _SAME_BINARY
        coerce = _coercer(s, w) if verdict != INCOMPATIBLE and s.kind != w.kind else None
        matches.append(ColumnMatch(name, declared, w.name, verdict, wire, coerce))
    return TypeComparison(rel.qualified, tuple(matches), dict(rel.type_oids))
