"""Which values a warehouse column can store, checked column-wise before COPY (pure, no I/O).

Binary COPY stores what it is given in the column's wire format: an integer past int4's
range is sent wrapped (psycopg packs the low 32 bits), a float into `real` overflows to
Infinity, a datetime into a `date` loses its time of day. Other values fail the whole COPY
with an error that names no row (`numeric field overflow`), or fail in the driver with a
bare TypeError. So every value is checked against its target column first:

- integers within smallint / integer / bigint; whole numbers only (a float or Decimal that
  is a whole number is taken as that integer: pandas makes an integer column with NULLs
  float, a numeric source sends Decimals);
- numeric(p,s) within its precision (rounding to the scale is the type's own rule);
  unconstrained numeric takes any number, NaN and ±Infinity included (PostgreSQL 14+);
  a float NaN is the missing-value marker everywhere in the load path, i.e. NULL;
- double precision / real: numbers only; an integer past 2^53 (2^24 for real) would be
  stored rounded, so it is refused; a finite value past real's range too;
- text / varchar(n) / char(n): str only; no NUL byte, no unpaired surrogate (not UTF-8),
  at most n characters;
- boolean: bool only (an integer 1 is not a truth value);
- date: dates (a datetime only at midnight without a zone); timestamptz: aware datetimes;
  timestamp: naive ones (a value with the other kind would be shifted or refused);
- json/jsonb: JSON text, or Python values serialized here (allow_nan=False); what a JSON
  parser accepts but PostgreSQL does not (NaN/Infinity tokens, \\u0000, unpaired
  surrogates) is refused. JSON text is screened in one regular-expression pass over the
  column; a value the screen flags is parsed to decide;
- text[]: lists of str (or None), each element checked like text;
- a value of another Python type than the column takes (a str in a bigint column) is
  refused: nothing is parsed or guessed here.

Every check first looks at the column as a whole (the set of value types, one
concatenation of its text, vectorized numpy range checks) and walks values one by one only
when that finds something (or when the values need converting, e.g. Decimals into bigint).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

_NONE = type(None)
_MISSING_TYPES = (type(pd.NaT), type(pd.NA))
_INT_BOUNDS = {16: (-(2**15), 2**15 - 1), 32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}
# Integers a float column stores exactly: 2^53 (double), 2^24 (real).
_FLOAT_EXACT = {64: 2**53, 32: 2**24}
_REAL_MAX = float(np.finfo(np.float32).max)
# Where a JSON parser and PostgreSQL's disagree: non-standard number tokens, NUL, and
# \\uD800-\\uDFFF escapes (fine when paired: the parse decides).
# Also numbers jsonb may not hold (it stores them as numeric): a long exponent, a long digit run.
# Split in cheap steps (substring tests first, each regex only where it can match): one
# alternation over every text was the load path's slowest per-row step.
_JSON_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_JSON_LONG_EXPONENT = re.compile(r"[0-9][eE][+-]?0*[0-9]{5}")
_JSON_LONG_DIGITS = re.compile(r"[0-9]{16384}")
_JSON_LONG_TEXT = 16384


def _json_suspect(text: str, longest: int) -> bool:
    """Whether `text` (JSON texts, `longest` the length of the longest) may hold what a JSON
    parser and PostgreSQL disagree on; a suspect text is parsed to decide."""
    return (
        "NaN" in text
        or "Infinity" in text
        or ("\\u" in text and _JSON_BAD_ESCAPE.search(text) is not None)
        or _JSON_LONG_EXPONENT.search(text) is not None
        or (longest >= _JSON_LONG_TEXT and _JSON_LONG_DIGITS.search(text) is not None)
    )


# PostgreSQL's numeric: at most 131072 digits before the decimal point and 16383 after.
# Binary COPY sends a Decimal's own digits and scale: past either, the server refuses the
# whole COPY (with a message naming nothing).
NUMERIC_MAX_INTEGER_DIGITS = 131072
NUMERIC_MAX_SCALE = 16383
_INT_MAX_BITS = 435_411  # 2**435411 > 10**131072
_TYPE_TEXT = re.compile(r"(?P<base>[a-z \"]+?)(?:\((?P<mod>[^)]*)\))?(?P<rest>( with(out)? time zone)?)")


@dataclass(frozen=True)
class ColumnType:
    """A warehouse column's type as format_type() prints it, parsed for checking."""

    name: str
    kind: str  # int numeric float text bool date timestamptz timestamp json array other
    bits: int = 0  # int: 16/32/64; float: 32/64
    precision: int | None = None  # numeric(p,s)
    scale: int = 0
    length: int | None = None  # varchar(n) / char(n)
    binary_json: bool = False  # jsonb (vs json): its binary format has a version byte
    element: ColumnType | None = field(default=None, compare=False)

    @property
    def limit(self) -> Decimal | None:
        """numeric(p,s): the smallest magnitude that no longer fits after rounding to s."""
        if self.precision is None:
            return None
        return Decimal(10) ** (self.precision - self.scale) - Decimal(5) * Decimal(10) ** (-self.scale - 1)


_SIMPLE_KINDS = {
    "smallint": ("int", 16),
    "integer": ("int", 32),
    "bigint": ("int", 64),
    "real": ("float", 32),
    "double precision": ("float", 64),
    "numeric": ("numeric", 0),
    "decimal": ("numeric", 0),
    "text": ("text", 0),
    "character varying": ("text", 0),
    "character": ("text", 0),
    "varchar": ("text", 0),
    "citext": ("text", 0),
    "name": ("text", 0),
    "boolean": ("bool", 0),
    "date": ("date", 0),
    "timestamp with time zone": ("timestamptz", 0),
    "timestamp without time zone": ("timestamp", 0),
    "json": ("json", 0),
    "jsonb": ("json", 0),
}


def column_type(name: str) -> ColumnType:
    """Parse format_type text: 'numeric(6,4)', 'character varying(20)', 'text[]', ..."""
    if name.endswith("[]"):
        element = column_type(name[:-2])
        return ColumnType(name, "array", element=element)
    match = _TYPE_TEXT.fullmatch(name)
    if not match:
        return ColumnType(name, "other")
    base = (match.group("base") + match.group("rest")).strip()
    mod = match.group("mod")
    kind, bits = _SIMPLE_KINDS.get(base, ("other", 0))
    if kind == "numeric" and mod:
        parts = [int(p) for p in mod.split(",")]
        return ColumnType(name, kind, precision=parts[0], scale=parts[1] if len(parts) > 1 else 0)
    if kind == "text" and mod and base != "name":
        return ColumnType(name, kind, length=int(mod))
    return ColumnType(name, kind, bits=bits, binary_json=base == "jsonb")


@dataclass
class Checked:
    """One column's values ready for COPY (converted where needed; the bad ones left in
    place for the caller to NULL or to skip their row), and what is wrong with which."""

    values: Any  # an object ndarray or a list, same length as the input
    bad: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def refuse(self, index: int, reason: str) -> None:
        self.bad.append(index)
        self.reasons.append(reason)


# --------------------------------------------------------------------------- helpers


def int_text(number: int) -> str:
    """An integer's digits, or its size when str() would refuse it (more than 4,300 digits)."""
    if number.bit_length() > 14_000:
        return f"an integer of {number.bit_length()} bits"
    return str(number)


def show(value: Any, limit: int = 60) -> str:
    """A short printable form of a value for a reason text (numbers as written, text quoted)."""
    number = isinstance(value, (int, float, Decimal, np.number)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, int) and not isinstance(value, bool):
        text = int_text(value)
    else:
        text = str(value) if number else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _type_name(value: Any) -> str:
    return type(value).__name__


def value_types(values) -> set[type]:
    return set(map(type, values))


def normalize_missing(values: np.ndarray) -> tuple[np.ndarray, set[type]]:
    """None for every missing-value marker (None, float NaN, NaT, NA), and the value types
    after that; a Decimal NaN is a value (numeric stores it). Looks at values one by one
    only when a marker type occurs."""
    types = value_types(values)
    if not any(issubclass(t, float) or t in _MISSING_TYPES for t in types):
        return values, types
    mask = pd.isna(values)
    if not mask.any():
        return values, types
    out = values.copy()
    out[mask] = [
        None if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v) else v for v in out[mask]
    ]
    return out, value_types(out)


def _present(values: np.ndarray, types: set[type]) -> np.ndarray:
    if _NONE not in types:
        return values
    return values[values != None]  # noqa: E711 (elementwise)


def _per_value(values: np.ndarray, one: Callable[[Any], tuple[Any, str | None]], converts: bool) -> Checked:
    """The careful path: `one(value) -> (converted value, reason or None)` for each value."""
    out = values.copy() if converts else values
    checked = Checked(out)
    for i, value in enumerate(values.tolist()):
        if value is None:
            continue
        converted, reason = one(value)
        if reason is not None:
            checked.refuse(i, reason)
        elif converts:
            out[i] = converted
    return checked


def _wrong_type(value: Any, ctype: ColumnType) -> str:
    return f"{_type_name(value)} value {show(value)} is not a {ctype.name} (values are not converted)"


# --------------------------------------------------------------------------- integers


def _int_one(ctype: ColumnType) -> Callable[[Any], tuple[Any, str | None]]:
    lo, hi = _INT_BOUNDS[ctype.bits]

    def one(value):
        if isinstance(value, (bool, np.bool_)):
            return value, f"boolean {value!r} is not a {ctype.name}"
        if isinstance(value, (int, np.integer)):
            number = int(value)
        elif isinstance(value, (float, np.floating, Decimal)):
            if isinstance(value, Decimal):
                finite = value.is_finite()
            else:
                finite = math.isfinite(value)
            if not finite:
                return value, f"{show(value)} is not a finite number ({ctype.name})"
            number = int(value)
            if number != value:
                return value, f"{show(value)} is not a whole number ({ctype.name})"
        else:
            return value, _wrong_type(value, ctype)
        if not lo <= number <= hi:
            return value, f"{show(number)} is out of range for {ctype.name} ({lo}..{hi})"
        return number, None

    return one


def _check_int_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    if types - {_NONE} <= {int}:
        present = _present(values, types)
        try:
            ints = present.astype(np.int64)
        except OverflowError:
            return _per_value(values, _int_one(ctype), converts=False)
        if ctype.bits < 64 and len(ints):
            lo, hi = _INT_BOUNDS[ctype.bits]
            if ints.min() < lo or ints.max() > hi:
                return _per_value(values, _int_one(ctype), converts=False)
        return Checked(values)
    return _per_value(values, _int_one(ctype), converts=True)


# --------------------------------------------------------------------------- numbers


def _numeric_one(ctype: ColumnType, as_float: bool) -> Callable[[Any], tuple[Any, str | None]]:
    limit = ctype.limit

    def one(value):
        if isinstance(value, (bool, np.bool_)):
            return value, f"boolean {value!r} is not a {ctype.name}"
        if isinstance(value, (int, np.integer)):
            number: Any = int(value)
            if as_float:
                if abs(number) > _FLOAT_EXACT[64]:
                    return value, (
                        f"{show(number)} cannot be staged exactly with the floats this load's first "
                        f"chunk sent for {ctype.name}: send one kind of number per column"
                    )
                number = float(number)
        elif isinstance(value, (float, np.floating)):
            number = float(value)
            if not as_float:
                number = Decimal(repr(number)) if math.isfinite(number) else Decimal(str(number))
        elif isinstance(value, Decimal):
            number = value
            if as_float:
                converted = float(value)
                if value.is_finite() and Decimal(repr(converted)) != value:
                    return value, (
                        f"{show(value)} cannot be staged exactly with the floats this load's first "
                        f"chunk sent for {ctype.name}: send one kind of number per column"
                    )
                number = converted
        else:
            return value, _wrong_type(value, ctype)
        if limit is None and not as_float:
            problem = _numeric_range_problem(number)
            if problem:
                return value, problem
        if limit is not None:
            magnitude = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
            if magnitude.is_infinite() or (magnitude.is_finite() and abs(magnitude) >= limit):
                return value, (
                    f"{show(value)} does not fit {ctype.name} (at most {ctype.precision - ctype.scale} "
                    "digits before the decimal point)"
                )
        return number, None

    return one


def _numeric_range_problem(number) -> str | None:
    """Why PostgreSQL's numeric cannot hold `number` (an int or Decimal), or None."""
    if isinstance(number, int):
        if number.bit_length() > _INT_MAX_BITS:
            return f"a {number.bit_length()}-bit integer has more than {NUMERIC_MAX_INTEGER_DIGITS} digits (numeric)"
        return None
    if not isinstance(number, Decimal) or not number.is_finite():
        return None
    if number.adjusted() >= NUMERIC_MAX_INTEGER_DIGITS:
        return f"{show(number)} has more than {NUMERIC_MAX_INTEGER_DIGITS} digits before the decimal point (numeric)"
    if -number.as_tuple().exponent > NUMERIC_MAX_SCALE:
        return f"{show(number)} has more than {NUMERIC_MAX_SCALE} digits after the decimal point (numeric)"
    return None


def _decimals_fit(values: list) -> bool:
    """Screen (C-level passes) for unconstrained numeric: every value within numeric's range.
    A Decimal of at most 2 KB holds at most ~4,600 digits, so with its leading digit between
    1e-11000 and 1e131071 its last one is within 16383 places after the point."""
    decimals = [v for v in values if type(v) is Decimal]
    if len(decimals) != len(values):
        ints = [v for v in values if type(v) is not Decimal]
        if ints and max(map(int.bit_length, ints)) > _INT_MAX_BITS:
            return False
    if not decimals:
        return True
    adjusted = list(map(Decimal.adjusted, decimals))
    return (
        max(adjusted) < NUMERIC_MAX_INTEGER_DIGITS
        and min(adjusted) > -11_000
        and max(map(sys.getsizeof, decimals)) <= 2048
    )


def _check_numeric_objects(values: np.ndarray, types: set[type], ctype: ColumnType, as_float: bool) -> Checked:
    kinds = types - {_NONE}
    clean = {float} if as_float else {Decimal, int}
    if kinds <= clean and ctype.precision is None:
        if as_float or _decimals_fit(_present(values, types).tolist()):
            return Checked(values)
        return _per_value(values, _numeric_one(ctype, as_float), converts=True)
    if as_float and kinds <= {float}:
        return _float_limit(values, types, ctype)
    return _per_value(values, _numeric_one(ctype, as_float), converts=True)


def _float_limit(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    present = _present(values, types).astype(np.float64)
    if _floats_fit(present, ctype).all():
        return Checked(values)
    return _per_value(values, _numeric_one(ctype, True), converts=False)


def _floats_fit(arr: np.ndarray, ctype: ColumnType) -> np.ndarray:
    """numeric(p,s) fit of finite floats (NaN is NULL, decided before), vectorized."""
    if ctype.precision is None:
        return np.ones(len(arr), dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(np.round(arr, ctype.scale)) < 10.0 ** (ctype.precision - ctype.scale)


def _float_one(ctype: ColumnType) -> Callable[[Any], tuple[Any, str | None]]:
    exact = _FLOAT_EXACT[ctype.bits]

    def one(value):
        if isinstance(value, (bool, np.bool_)):
            return value, f"boolean {value!r} is not a {ctype.name}"
        if isinstance(value, (int, np.integer)):
            if abs(int(value)) > exact:
                return value, f"{show(int(value))} cannot be stored exactly in {ctype.name} (beyond ±{exact})"
            return float(value), None
        if isinstance(value, (float, np.floating, Decimal)):
            number = float(value)
            if isinstance(value, Decimal) and value.is_finite() and not math.isfinite(number):
                return value, f"{show(value)} is out of range for {ctype.name}"
            if ctype.bits == 32 and math.isfinite(number) and abs(number) > _REAL_MAX:
                return value, f"{show(value)} is out of range for {ctype.name}"
            return number, None
        return value, _wrong_type(value, ctype)

    return one


def _check_float_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    if types - {_NONE} <= {float} and ctype.bits == 64:
        return Checked(values)
    return _per_value(values, _float_one(ctype), converts=True)


# --------------------------------------------------------------------------- text


def _text_problem(text: str, ctype: ColumnType) -> str | None:
    if "\x00" in text:
        return f"NUL byte (\\x00) at character {text.index(chr(0))}: PostgreSQL text cannot hold it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid UTF-8: unpaired surrogate {text[exc.start]!r} at character {exc.start}"
    if ctype.length is not None and len(text) > ctype.length:
        return f"{len(text)} characters, more than {ctype.name} holds"
    return None


def _text_one(ctype: ColumnType) -> Callable[[Any], tuple[Any, str | None]]:
    def one(value):
        if not isinstance(value, str):
            return value, _wrong_type(value, ctype)
        return value, _text_problem(value, ctype)

    return one


def _texts_clean(texts, ctype: ColumnType) -> bool:
    """All of `texts` (str) storable: one concatenation, searched and encoded once."""
    joined = "".join(texts)
    if "\x00" in joined:
        return False
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return False
    if ctype.length is not None and texts and max(map(len, texts)) > ctype.length:
        return False
    return True


def _all_str(types: set[type]) -> bool:
    return all(issubclass(t, str) for t in types - {_NONE})


def _check_text_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    if _all_str(types) and _texts_clean(_present(values, types).tolist(), ctype):
        return Checked(values)
    return _per_value(values, _text_one(ctype), converts=False)


# --------------------------------------------------------------------------- others


def _check_bool_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    if types - {_NONE} <= {bool}:
        return Checked(values)

    def one(value):
        if isinstance(value, (bool, np.bool_)):
            return bool(value), None
        return value, _wrong_type(value, ctype)

    return _per_value(values, one, converts=True)


def _date_one(ctype: ColumnType):
    def one(value):
        if isinstance(value, datetime):
            if value.tzinfo is not None or value.time() != datetime.min.time():
                return value, f"{show(value)} has a time of day or a zone: a {ctype.name} would drop it"
            return value.date(), None
        if isinstance(value, date):
            return value, None
        return value, _wrong_type(value, ctype)

    return one


def _timestamp_one(ctype: ColumnType):
    aware = ctype.kind == "timestamptz"

    def one(value):
        if not isinstance(value, datetime):
            return value, _wrong_type(value, ctype)
        if (value.tzinfo is not None) != aware:
            which = "has no time zone" if aware else "has a time zone"
            return value, f"{show(value)} {which}: not a {ctype.name} (the instant would be a guess)"
        return value, None

    return one


def _check_datetime_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    kinds = types - {_NONE}
    if ctype.kind == "date":
        if kinds <= {date}:
            return Checked(values)
        return _per_value(values, _date_one(ctype), converts=True)
    if kinds and all(issubclass(t, datetime) for t in kinds):
        zones = set(map(attrgetter("tzinfo"), _present(values, types)))
        if (None not in zones) if ctype.kind == "timestamptz" else (zones == {None}):
            return Checked(values)
    return _per_value(values, _timestamp_one(ctype), converts=False)


def _json_problem(obj: Any) -> str | None:
    """What PostgreSQL refuses in a parsed JSON value: NUL or unpaired surrogates in text."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "JSON text with \\u0000: PostgreSQL's json types cannot hold it"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "JSON text with an unpaired surrogate (\\ud800-\\udfff): not valid for PostgreSQL"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _reject_constant(token: str):
    raise ValueError(f"{token} is not a JSON number")


def _json_number(text: str) -> Decimal:
    """A JSON number as jsonb stores it (numeric): refused past numeric's range."""
    number = Decimal(text)
    problem = _numeric_range_problem(number)
    if problem:
        raise ValueError(f"the number {problem} (jsonb stores numbers as numeric)")
    return number


def _json_text_problem(text: str, binary: bool = True) -> str | None:
    # Numbers parsed as Decimal: exact, and no int() digit limit (jsonb holds 131072 digits).
    number = _json_number if binary else Decimal
    try:
        parsed = json.loads(text, parse_constant=_reject_constant, parse_float=number, parse_int=number)
    except ValueError as exc:
        reason = str(exc)
        return reason if reason.startswith("the number") else f"not valid JSON: {reason[:160]}"
    return _json_problem(parsed)


def _json_one(value, binary: bool = True):
    if isinstance(value, str):
        if not _texts_clean([value], ColumnType("text", "text")):
            return value, _text_problem(value, ColumnType("text", "text"))
        return value, (_json_text_problem(value, binary) if _json_suspect(value, len(value)) else None)
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return value, f"{_type_name(value)} value is not JSON: {str(exc)[:120]}"
    problem = _json_problem(value)
    return (value, problem) if problem else (text, None)


def _check_json_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    if _all_str(types):
        texts = _present(values, types).tolist()
        if _texts_clean(texts, ColumnType("text", "text")) and not _json_suspect(
            "\n".join(texts), max(map(len, texts), default=0)
        ):
            return Checked(values)
    return _per_value(values, lambda value: _json_one(value, ctype.binary_json), converts=True)


def _check_array_objects(values: np.ndarray, types: set[type], ctype: ColumnType) -> Checked:
    element = ctype.element
    kinds = types - {_NONE}
    if kinds <= {list} and element is not None and element.kind == "text":
        items = list(chain.from_iterable(_present(values, types).tolist()))
        item_types = value_types(items)
        if _all_str(item_types) and _texts_clean([t for t in items if t is not None], element):
            return Checked(values)

    def one(value):
        if not isinstance(value, list):
            return value, _wrong_type(value, ctype)
        if element is not None and element.kind == "text":
            for item in value:
                if item is None:
                    continue
                if not isinstance(item, str):
                    return value, f"element {show(item)} ({_type_name(item)}) is not {element.name}"
                problem = _text_problem(item, element)
                if problem:
                    return value, f"element: {problem}"
        return value, None

    return _per_value(values, one, converts=False)


# --------------------------------------------------------------------------- entry points


def check_objects(
    values: np.ndarray, ctype: ColumnType, *, numbers_as_float: bool = False, types: set[type] | None = None
) -> Checked:
    """Check (and convert, where a value needs it for the binary dumper) a 1-D object array
    whose NULLs are None (see normalize_missing, which also gives `types`, the set of value
    types). `numbers_as_float`: a numeric column staged as float8 (its values must be
    floats); otherwise numeric takes Decimal/int."""
    if types is None:
        types = value_types(values)
    if types <= {_NONE}:
        return Checked(values)
    kind = ctype.kind
    if kind == "int":
        return _check_int_objects(values, types, ctype)
    if kind == "numeric":
        return _check_numeric_objects(values, types, ctype, numbers_as_float)
    if kind == "float":
        return _check_float_objects(values, types, ctype)
    if kind == "text":
        return _check_text_objects(values, types, ctype)
    if kind == "bool":
        return _check_bool_objects(values, types, ctype)
    if kind in ("date", "timestamptz", "timestamp"):
        return _check_datetime_objects(values, types, ctype)
    if kind == "json":
        return _check_json_objects(values, types, ctype)
    if kind == "array":
        return _check_array_objects(values, types, ctype)
    return Checked(values)


def check_floats(arr: np.ndarray, ctype: ColumnType) -> list[tuple[int, str]]:
    """A float64 array (NaN = NULL) against its column: the positions it cannot store."""
    finite = np.isfinite(arr)
    present = ~np.isnan(arr)
    kind = ctype.kind
    if kind == "int":
        lo, hi = _INT_BOUNDS[ctype.bits]
        with np.errstate(invalid="ignore"):
            ok = finite & (arr == np.floor(arr)) & (arr >= lo) & (arr < float(hi) + 1)
    elif kind == "numeric":
        ok = finite & _floats_fit(np.where(finite, arr, 0.0), ctype)
        if ctype.precision is None:
            ok |= ~finite  # ±Infinity: unconstrained numeric stores it
    elif kind == "float":
        ok = np.ones(len(arr), dtype=bool)
        if ctype.bits == 32:
            ok = ~finite | (np.abs(np.where(finite, arr, 0.0)) <= _REAL_MAX)
    else:
        ok = np.zeros(len(arr), dtype=bool)
    bad = np.flatnonzero(present & ~ok)
    if not len(bad):
        return []
    one = {"int": _int_one, "numeric": lambda t: _numeric_one(t, False), "float": _float_one}.get(kind)
    out = []
    for i in bad.tolist():
        value = float(arr[i])
        out.append((i, one(ctype)(value)[1] if one else _wrong_type(value, ctype)))
    return out


def check_ints(arr: np.ndarray, ctype: ColumnType) -> list[tuple[int, str]]:
    """An integer (or unsigned) numpy array against its column."""
    kind = ctype.kind
    if kind == "int":
        lo, hi = _INT_BOUNDS[ctype.bits]
        if arr.dtype.kind == "u":
            bad = np.flatnonzero(arr > np.uint64(hi))
        elif ctype.bits >= 64:
            return []
        else:
            bad = np.flatnonzero((arr < lo) | (arr > hi))
        return [(i, f"{int(arr[i])} is out of range for {ctype.name} ({lo}..{hi})") for i in bad.tolist()]
    if kind == "numeric":
        if ctype.precision is None:
            return []
        limit = ctype.limit
        # A float screen (int64 has no abs of its minimum), then the exact test on candidates.
        near = np.flatnonzero(np.abs(arr.astype(np.float64)) >= float(limit) * (1 - 1e-9))
        bad = [i for i in near.tolist() if abs(Decimal(int(arr[i]))) >= limit]
        return [(i, _numeric_one(ctype, False)(int(arr[i]))[1]) for i in bad]
    if kind == "float":
        exact = _FLOAT_EXACT[ctype.bits]
        bad = np.flatnonzero(np.abs(arr.astype(np.float64)) > exact)
        return [(i, _float_one(ctype)(int(arr[i]))[1]) for i in bad.tolist()]
    return [(i, _wrong_type(int(v), ctype)) for i, v in enumerate(arr.tolist())]


def check_bools(arr: np.ndarray, ctype: ColumnType) -> list[tuple[int, str]]:
    if ctype.kind == "bool":
        return []
    return [(i, _wrong_type(bool(v), ctype)) for i, v in enumerate(arr.tolist())]


def check_datetimes(values: pd.Series, ctype: ColumnType) -> list[tuple[int, str]]:
    """A datetime64 (naive or zoned) series against its column (NaT = NULL)."""
    present = values.notna().to_numpy()
    zoned = isinstance(values.dtype, pd.DatetimeTZDtype)
    if ctype.kind == "date":
        if zoned:
            bad = present
            reason = "has a zone: a date would drop the time of day"
        else:
            arr = values.to_numpy()
            days = arr.astype("datetime64[D]")
            bad = present & (
                (arr != days.astype(arr.dtype))
                | (days < np.datetime64("0001-01-01"))
                | (days > np.datetime64("9999-12-31"))
            )
            reason = "has a time of day (or is outside years 1-9999): a date would change it"
    elif ctype.kind in ("timestamptz", "timestamp"):
        if zoned == (ctype.kind == "timestamptz"):
            return []
        bad = present
        reason = (
            "has no time zone: not a timestamp with time zone"
            if not zoned
            else "has a time zone: not a timestamp without time zone"
        )
    else:
        bad = present
        reason = f"a datetime is not a {ctype.name}"
    return [(i, f"{values.iloc[i]} {reason}") for i in np.flatnonzero(bad).tolist()]
