"""Pure rules: type parsing, the column-wise checks' clean paths, and the Chatwoot type verdicts."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from resources.load import value_checks as vc
from resources.load.rejections import shown_value
from resources.source.relation import SourceRelation
from vetorial_assets.chatwoot import source_types


@pytest.mark.parametrize(
    ("name", "kind", "extra"),
    [
        ("smallint", "int", {"bits": 16}),
        ("integer", "int", {"bits": 32}),
        ("bigint", "int", {"bits": 64}),
        ("numeric", "numeric", {"precision": None}),
        ("numeric(6,4)", "numeric", {"precision": 6, "scale": 4}),
        ("numeric(10)", "numeric", {"precision": 10, "scale": 0}),
        ("double precision", "float", {"bits": 64}),
        ("real", "float", {"bits": 32}),
        ("text", "text", {"length": None}),
        ("character varying(20)", "text", {"length": 20}),
        ("character(2)", "text", {"length": 2}),
        ("boolean", "bool", {}),
        ("date", "date", {}),
        ("timestamp with time zone", "timestamptz", {}),
        ("timestamp(3) with time zone", "timestamptz", {}),
        ("timestamp without time zone", "timestamp", {}),
        ("jsonb", "json", {"binary_json": True}),
        ("json", "json", {"binary_json": False}),
        ("uuid", "other", {}),
        ("bytea", "other", {}),
    ],
)
def test_format_type_text_is_parsed(name, kind, extra):
    parsed = vc.column_type(name)
    assert parsed.kind == kind and parsed.name == name
    for attr, value in extra.items():
        assert getattr(parsed, attr) == value, attr


def test_arrays_carry_their_element_type():
    parsed = vc.column_type("character varying(5)[]")
    assert parsed.kind == "array" and parsed.element.kind == "text" and parsed.element.length == 5


def test_numeric_limit_rounds_like_postgresql():
    ctype = vc.column_type("numeric(6,4)")
    assert ctype.limit == Decimal("99.99995")  # 99.99995 rounds to 100.0000: too big


@pytest.mark.parametrize(
    ("type_name", "values"),
    [
        ("bigint", [1, None, 2**63 - 1]),
        ("integer", [1, -(2**31), None]),
        ("numeric", [Decimal("1.5"), 3, None, Decimal("NaN")]),
        ("text", ["a", None, "é😀"]),
        ("character varying(3)", ["abc", None]),
        ("timestamp with time zone", []),
        ("jsonb", ['{"a": 1}', None, '"\\u00e9"']),
        ("text[]", [["a", None], None, []]),
        ("boolean", [True, None]),
    ],
)
def test_a_clean_column_is_passed_on_as_it_is(type_name, values):
    # The clean path looks at the column as a whole and hands back the very same array:
    # nothing converted, nothing copied.
    array = np.fromiter(values, dtype=object, count=len(values))
    checked = vc.check_objects(array, vc.column_type(type_name))
    assert checked.values is array and checked.bad == []


def test_missing_markers_become_none_and_a_decimal_nan_stays():
    values = np.array([float("nan"), None, Decimal("NaN"), 1.5], dtype=object)
    out, types = vc.normalize_missing(values)
    assert out[0] is None and out[1] is None and out[2].is_nan() and out[3] == 1.5
    assert types == {type(None), Decimal, float}


def test_typed_int_arrays_are_range_checked_without_a_loop():
    arr = np.array([1, 2**31, -(2**31) - 1, 5], dtype=np.int64)
    assert [i for i, _ in vc.check_ints(arr, vc.column_type("integer"))] == [1, 2]
    assert vc.check_ints(arr, vc.column_type("bigint")) == []
    assert [i for i, _ in vc.check_ints(np.array([2**64 - 1], dtype=np.uint64), vc.column_type("bigint"))] == [0]
    assert [i for i, _ in vc.check_ints(np.array([9999, 10000], dtype=np.int64), vc.column_type("numeric(6,2)"))] == [1]


def test_typed_float_arrays_into_integers_must_be_whole_and_in_range():
    arr = np.array([1.0, 1.5, np.nan, np.inf, 2.0**31, -(2.0**31)])
    bad = dict(vc.check_floats(arr, vc.column_type("integer")))
    assert sorted(bad) == [1, 3, 4]
    assert "not a whole number" in bad[1] and "not a finite number" in bad[3] and "out of range" in bad[4]


def test_shown_values_mask_personal_data_and_cut_the_rest():
    assert shown_value("Maria da Silva", pii=True) == "<masked str: 14 characters>"
    assert shown_value("x" * 500).endswith("… (500 characters)") and len(shown_value("x" * 500)) < 230
    assert shown_value("a\x00b") == "a\\x00b" and shown_value("\ud800") == "\\ud800"
    assert shown_value(Decimal("2.50")) == "2.50" and shown_value(None) is None


def _rel(types: dict[str, str], oids: dict[str, int] | None = None) -> SourceRelation:
    base = {
        name: text.split("(")[0] if "(" in text and not text.endswith("[]") else text for name, text in types.items()
    }
    return SourceRelation("public", "v", base, oids or {}, {}, types)


@pytest.mark.parametrize(
    ("source", "warehouse", "verdict"),
    [
        ("integer", "bigint", "fits"),
        ("bigint", "integer", "may_not_fit"),
        ("smallint", "integer", "fits"),
        ("numeric(6,4)", "numeric", "fits"),
        ("numeric", "numeric(6,4)", "may_not_fit"),
        ("numeric(4,2)", "numeric(6,4)", "fits"),
        ("numeric(6,4)", "numeric(6,2)", "may_not_fit"),
        ("numeric", "bigint", "may_not_fit"),
        ("double precision", "numeric", "fits"),
        ("double precision", "bigint", "may_not_fit"),
        ("integer", "double precision", "fits"),
        ("bigint", "double precision", "may_not_fit"),
        ("text", "bigint", "may_not_fit"),
        ("character varying(20)", "text", "fits"),
        ("text", "character varying(20)", "may_not_fit"),
        ("bigint", "text", "fits"),
        ("boolean", "timestamp with time zone", "incompatible"),
        ("boolean", "bigint", "incompatible"),
        ("date", "numeric", "incompatible"),
        ("timestamp without time zone", "timestamp with time zone", "fits"),
        ("timestamp with time zone", "date", "incompatible"),
        ("jsonb", "jsonb", "fits"),
        ("character varying(10)[]", "text[]", "fits"),
        ("bigint[]", "text[]", "incompatible"),
    ],
)
def test_source_type_verdicts(source, warehouse, verdict):
    comparison = source_types.compare(_rel({"c": source}), {"c": warehouse}, ["c"])
    (match,) = comparison.matches
    assert match.verdict == verdict


def test_text_is_coerced_toward_the_warehouse_kind_and_what_does_not_parse_is_left_for_the_load_path():
    comparison = source_types.compare(
        _rel({"n": "text", "b": "text", "d": "text", "s": "numeric"}),
        {"n": "bigint", "b": "boolean", "d": "date", "s": "text"},
        ["n", "b", "d", "s"],
    )
    coerce = comparison.coercions()
    values = np.array([" 42 ", "abc", None, "3.5"], dtype=object)
    assert coerce["n"](values).tolist() == [42, "abc", None, "3.5"]
    assert coerce["b"](np.array(["t", "No", "maybe"], dtype=object)).tolist() == [True, False, "maybe"]
    assert str(coerce["d"](np.array(["2025-01-02", "02/01/2025"], dtype=object)).tolist()[0]) == "2025-01-02"
    assert coerce["s"](np.array([Decimal("1.50")], dtype=object)).tolist() == ["1.50"]


def test_incompatible_columns_fail_naming_column_and_both_types():
    comparison = source_types.compare(
        _rel({"a": "boolean", "b": "date"}), {"a": "timestamp with time zone", "b": "bigint"}, ["a", "b"]
    )
    with pytest.raises(
        source_types.SourceTypeError, match=r"a \(boolean -> timestamp with time zone\); b \(date -> bigint\)"
    ):
        comparison.raise_if_incompatible()
