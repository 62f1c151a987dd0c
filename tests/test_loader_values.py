"""Values a column cannot store, against a real PostgreSQL: each class is NULLed (or its row
left out when in the key or a NOT NULL column) and recorded in ops.rejected_values, the rest
of the batch lands, nothing is stored wrapped or cut; on the direct COPY and the merge path,
for every chunk shape."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from resources import load as loader
from resources.load import LoadError
from resources.load.rejections import Quarantine, key_json
from resources.warehouse import Warehouse

TABLE = """
CREATE TABLE s.v (
    id bigint PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint,
    n numeric, n64 numeric(6,4),
    f8 double precision, f4 real,
    t text, vc varchar(5), b boolean,
    d date, ts timestamptz, tsn timestamp,
    j jsonb, js json, labels text[],
    name text,
    req text NOT NULL DEFAULT 'x'
)
"""
GOOD = {
    "id": 1,
    "i2": 7,
    "i4": 2**31 - 1,
    "i8": 2**63 - 1,
    "n": Decimal("87.5"),
    "n64": Decimal("99.9999"),
    "f8": 0.25,
    "f4": 1.5,
    "t": "olá 😀",
    "vc": "abcde",
    "b": True,
    "d": date(2025, 1, 2),
    "ts": datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
    "tsn": datetime(2025, 1, 2, 3, 4),
    "j": '{"a": [1, "é", "\\ud83d\\ude00"]}',
    "js": '{"b": 2}',
    "labels": ["lead", "vip"],
    "name": "Ana",
    "req": "ok",
}
SOURCE = Quarantine("test/values", partition="p1", run_id="run-1")


@pytest.fixture
def db(fresh_db):
    Warehouse(url=fresh_db.url).ensure_schema()  # ops.rejected_values
    with fresh_db.connect() as conn:
        conn.execute("CREATE SCHEMA s")
        conn.execute(TABLE)
        conn.commit()
    return fresh_db


def _target(conn):
    return loader.describe_table(conn, "s", "v", pii={"name"})


def _shape(rows: list[dict], shape: str):
    if shape == "dicts":
        return rows
    if shape == "columns":
        return {k: [r[k] for r in rows] for k in rows[0]}
    frame = pd.DataFrame(rows, dtype=object)
    return frame


def _load(db, rows, path, shape, **kwargs):
    with db.connect() as conn:
        conn.execute("TRUNCATE s.v")
        conn.execute("DELETE FROM ops.rejected_values")
        if path == "merge":
            conn.execute("INSERT INTO s.v (id, req) VALUES (99, 'other')")  # not empty: staged and merged
        quarantine = Quarantine(SOURCE.source, SOURCE.partition, SOURCE.run_id)
        result = loader.load(conn, _target(conn), [_shape(rows, shape)], quarantine=quarantine, **kwargs)
        conn.commit()
        stored = {
            r[0]: r
            for r in conn.execute(
                "SELECT id, i2, i4, i8, n, n64, f8, f4, t, vc, b, d, ts, tsn, j, js, labels, name, req FROM s.v"
                " WHERE id <> 99 ORDER BY id"
            )
        }
        rejected = conn.execute(
            "SELECT source, partition, run_id, table_name, row_key, column_name, reason, value, action"
            " FROM ops.rejected_values ORDER BY id"
        ).fetchall()
    return result, stored, rejected


COLUMNS = list(GOOD)


def _expect_good(stored_row, row):
    got = dict(zip(COLUMNS, stored_row))
    for k, v in row.items():
        if k in ("j", "js") and v is not None:
            assert got[k] == json.loads(v), k
        else:
            assert got[k] == v, k


# column, bad value, reason fragment
BAD = {
    "int4-past-range": ("i4", 3_000_000_000, "3000000000 is out of range for integer"),
    "int4-below-range": ("i4", -(2**31) - 1, "out of range for integer"),
    "int2-past-range": ("i2", 40_000, "out of range for smallint"),
    "int8-past-range": ("i8", 2**63, "out of range for bigint"),
    "str-in-bigint": ("i8", "12", "str value '12' is not a bigint"),
    "fraction-in-bigint": ("i8", 1.5, "1.5 is not a whole number"),
    "decimal-fraction-in-bigint": ("i8", Decimal("2.5"), "is not a whole number"),
    "nan-decimal-in-bigint": ("i8", Decimal("NaN"), "is not a finite number"),
    "bool-in-bigint": ("i8", True, "boolean True is not a bigint"),
    "past-numeric-precision": ("n64", Decimal("100"), "does not fit numeric(6,4)"),
    "rounds-past-precision": ("n64", Decimal("99.99996"), "does not fit numeric(6,4)"),
    "infinity-in-typmod-numeric": ("n64", float("inf"), "does not fit numeric(6,4)"),
    "str-in-numeric": ("n", "1,5", "is not a numeric"),
    "int-too-big-for-double": ("f8", 2**60, "cannot be stored exactly in double precision"),
    "past-real-range": ("f4", 1e39, "out of range for real"),
    "nul-in-text": ("t", "a\x00b", "NUL byte"),
    "surrogate-in-text": ("t", "a\ud800b", "unpaired surrogate"),
    "int-in-text": ("t", 5, "int value 5 is not a text"),
    "too-long-for-varchar": ("vc", "abcdef", "6 characters, more than character varying(5) holds"),
    "int-in-boolean": ("b", 1, "int value 1 is not a boolean"),
    "datetime-in-date": ("d", datetime(2025, 1, 2, 12, 30), "has a time of day"),
    "str-in-date": ("d", "2025-01-02", "is not a date"),
    "naive-in-timestamptz": ("ts", datetime(2025, 1, 2, 3, 4), "has no time zone"),
    "aware-in-timestamp": ("tsn", datetime(2025, 1, 2, 3, 4, tzinfo=UTC), "has a time zone"),
    "nan-token-in-jsonb": ("j", '{"a": NaN}', "not valid JSON"),
    "nul-escape-in-jsonb": ("j", '{"a": "x\\u0000"}', "\\u0000"),
    "lone-surrogate-in-jsonb": ("j", '["\\ud800"]', "unpaired surrogate"),
    "nan-in-json-object": ("js", {"a": float("nan")}, "is not JSON"),
    "non-list-in-text-array": ("labels", "lead, vip", "is not a text[]"),
    "int-element-in-text-array": ("labels", ["lead", 3], "element 3 (int) is not text"),
}


@pytest.mark.parametrize(("column", "value", "reason"), BAD.values(), ids=BAD.keys())
def test_a_bad_value_is_nulled_and_recorded_and_the_rest_lands(db, column, value, reason):
    for path in ("direct", "merge"):
        for shape in ("frame", "dicts", "columns"):
            rows = [dict(GOOD, id=1), {**GOOD, "id": 2, column: value}, dict(GOOD, id=3)]
            result, stored, rejected = _load(db, rows, path, shape)
            where = f"{path}/{shape}"
            assert sorted(stored) == [1, 2, 3], where
            _expect_good(stored[1], GOOD | {"id": 1})
            _expect_good(stored[3], GOOD | {"id": 3})
            _expect_good(stored[2], GOOD | {"id": 2, column: None})  # NULL, never wrapped or cut
            assert (result.rows, result.nulled, result.skipped) == (3, 1, 0), where
            ((source, partition, run_id, table, key, col, why, shown, action),) = rejected
            assert (source, partition, run_id, table, key, col, action) == (
                "test/values",
                "p1",
                "run-1",
                "s.v",
                {"id": 2},
                column,
                "nulled",
            ), where
            assert reason in why, (where, why)
            assert shown is not None and "\x00" not in shown


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("id", None, "NULL in a NOT NULL column"),
        ("id", 2**64, "out of range for bigint"),
        ("id", "7", "is not a bigint"),
        ("req", None, "NULL in a NOT NULL column"),
        ("req", "x\x00", "NUL byte"),
    ],
    ids=["null-key", "key-past-range", "str-key", "null-required", "nul-in-required"],
)
def test_a_bad_key_or_required_value_leaves_its_row_out(db, column, value, reason):
    for path in ("direct", "merge"):
        for shape in ("frame", "dicts", "columns"):
            rows = [dict(GOOD, id=1), {**GOOD, "id": 2, column: value}, dict(GOOD, id=3)]
            result, stored, rejected = _load(db, rows, path, shape)
            assert sorted(stored) == [1, 3]
            assert (result.rows, result.inserted, result.nulled, result.skipped) == (2, 2, 0, 1)
            ((*_, key, col, why, _shown, action),) = rejected
            assert (col, action) == (column, "row_skipped") and reason in why
            assert key == ({"id": 2} if column != "id" else key_json({"id": value}))


def test_every_problem_of_a_skipped_row_is_recorded_as_skipped_and_text_is_masked_or_cut(db, caplog):
    rows = [dict(GOOD, id=1), dict(GOOD, id=2, req=None, i4=2**40, name="Maria " * 1000, t="z" * 5000 + "\x00")]
    with caplog.at_level(logging.WARNING, logger="vetorial.loader"):
        result, stored, rejected = _load(db, rows, "direct", "frame")
    assert sorted(stored) == [1] and result.skipped == 1 and result.nulled == 0
    assert [(r[5], r[8]) for r in rejected] == [("i4", "row_skipped"), ("t", "row_skipped"), ("req", "row_skipped")]
    shown = {r[5]: r[7] for r in rejected}
    assert shown["i4"] == "1099511627776"
    assert len(shown["t"]) < 300 and shown["t"].endswith("(5001 characters)")
    # Every log line names table, key and column.
    assert "s.v (id=2) column i4: 1099511627776 is out of range for integer" in caplog.text


def test_personal_data_is_masked_in_the_record(db):
    rows = [dict(GOOD, id=1, name="Ana\x00Silva " + "x" * 4990)]
    _result, stored, rejected = _load(db, rows, "merge", "dicts")
    assert stored[1][17] is None
    ((*_, col, why, shown, action),) = rejected
    assert col == "name" and action == "nulled" and "NUL byte" in why
    assert "Ana" not in shown and "Silva" not in shown and shown == "<masked str: 5000 characters>"


def test_good_values_at_the_edges_land_exactly(db):
    edge = dict(
        GOOD,
        id=2,
        i2=-(2**15),
        i4=-(2**31),
        i8=-(2**63),
        n=Decimal("1e-40"),
        n64=Decimal("-99.99994"),
        f8=float("inf"),
        f4=-3.4e38,
    )
    for value in (Decimal("NaN"), Decimal("Infinity"), 10**40, 3.5):
        rows = [dict(edge, n=value)]
        result, stored, rejected = _load(db, rows, "merge", "frame")
        assert rejected == [] and result.nulled == 0
        got = stored[2][4]
        assert got.is_nan() if isinstance(value, Decimal) and value.is_nan() else got == Decimal(str(value))
    assert stored[2][1:4] == (-(2**15), -(2**31), -(2**63))
    assert stored[2][5] == Decimal("-99.9999")  # rounded to the scale: the type's own rule


def test_typed_frames_are_checked_with_numpy(db):
    frame = pd.DataFrame(
        {
            "id": np.arange(1, 7, dtype=np.int64),
            "i4": np.array([1, 2**31, 3, -(2**31) - 5, 5, 6], dtype=np.int64),
            "i8": [1.0, 2.5, np.nan, np.inf, 2.0**63, 6.0],  # floats: pandas' integer column with NULLs
            "n64": [0.5, 99.99996, np.nan, 1.0, -np.inf, 2.0],
            "f4": [1.0, 1e39, 2.0, np.nan, 3.0, 4.0],
            "d": pd.to_datetime(
                ["2025-01-01", "2025-01-02 10:00", "2025-01-03", None, "2025-01-05", "2025-01-06"], format="ISO8601"
            ),
            "b": np.array([True, False, True, False, True, False]),
            "t": [1.5, np.nan, 2.5, 3.5, 4.5, 5.5],  # floats into text: the wrong type
        }
    )
    for path in ("direct", "merge"):
        with db.connect() as conn:
            conn.execute("TRUNCATE s.v")
            conn.execute("DELETE FROM ops.rejected_values")
            if path == "merge":
                conn.execute("INSERT INTO s.v (id, req) VALUES (99, 'other')")
            result = loader.load(conn, _target(conn), [frame], quarantine=Quarantine("test/values"))
            stored = conn.execute("SELECT id, i4, i8, n64, f4, d, b, t FROM s.v WHERE id < 99 ORDER BY id").fetchall()
            rejected = conn.execute(
                "SELECT row_key->>'id', column_name, action FROM ops.rejected_values ORDER BY 1, 2"
            ).fetchall()
            conn.commit()
        assert stored == [
            (1, 1, 1, Decimal("0.5000"), 1.0, date(2025, 1, 1), True, None),
            (2, None, None, None, None, None, False, None),
            (3, 3, None, None, 2.0, date(2025, 1, 3), True, None),
            (4, None, None, Decimal("1.0000"), None, None, False, None),
            (5, 5, None, None, 3.0, date(2025, 1, 5), True, None),
            (6, 6, 6, Decimal("2.0000"), 4.0, date(2025, 1, 6), False, None),
        ], path
        assert rejected == sorted(
            [
                ("2", "i4", "nulled"),
                ("2", "i8", "nulled"),
                ("2", "n64", "nulled"),
                ("2", "f4", "nulled"),
                ("2", "d", "nulled"),
                ("4", "i4", "nulled"),
                ("4", "i8", "nulled"),
                ("5", "i8", "nulled"),
                ("5", "n64", "nulled"),
                *[(str(i), "t", "nulled") for i in (1, 3, 4, 5, 6)],
            ]
        ), path
        assert result.nulled == len(rejected) and result.skipped == 0


def test_wrong_python_types_name_the_column_instead_of_a_bare_type_error(db):
    # Issue 11 defect 8: `class NumericBinaryDumper cannot dump float` and `bad argument type
    # for built-in operation` named no column. Floats into numeric now land; a value of the
    # wrong type is refused with table, key and column named.
    with db.connect() as conn:
        rows = pd.DataFrame({"id": [1, 2], "n": [Decimal("1.5"), 2.25], "t": ["a", 7], "req": ["x", "y"]}, dtype=object)
        result = loader.load(conn, _target(conn), [rows], quarantine=Quarantine("test/values"))
        assert conn.execute("SELECT id, n, t FROM s.v ORDER BY id").fetchall() == [
            (1, Decimal("1.5"), "a"),
            (2, Decimal("2.25"), None),
        ]
        why = conn.execute("SELECT table_name, row_key, column_name, reason FROM ops.rejected_values").fetchall()
    assert result.nulled == 1
    assert why == [("s.v", {"id": 2}, "t", "int value 7 is not a text (values are not converted)")]


def test_a_float_column_staged_as_float8_takes_later_decimals_exactly(db):
    with db.connect() as conn:
        conn.execute("INSERT INTO s.v (id, req) VALUES (99, 'other')")
        chunks = [{"id": [1], "n": [0.1]}, {"id": [2, 3], "n": [Decimal("0.25"), Decimal("0.1000000000000000055")]}]
        # The target holds a row: the chunks are staged and merged.
        result = loader.load(conn, _target(conn), chunks, quarantine=Quarantine("test/values"))
        stored = conn.execute("SELECT id, n FROM s.v WHERE id < 99 ORDER BY id").fetchall()
        reason = conn.execute("SELECT reason FROM ops.rejected_values").fetchone()[0]
    assert stored == [(1, Decimal("0.1")), (2, Decimal("0.25")), (3, None)]
    assert result.nulled == 1 and "send one kind of number per column" in reason


def test_floats_into_unconstrained_numeric_compare_equal_on_both_paths(db):
    # Direct COPY stores a float's shortest digits (repr); the merge casts the float8 stage
    # through text to the same number: a reload of the same floats is unchanged.
    rows = {"id": [1, 2], "n": [0.1 + 0.2, 1 / 3], "req": ["a", "b"]}
    with db.connect() as conn:
        assert loader.load(conn, _target(conn), [rows]).inserted == 2
        again = loader.load(conn, _target(conn), [rows])
        stored = [r[0] for r in conn.execute("SELECT n FROM s.v ORDER BY id")]
    assert (again.unchanged, again.updated) == (2, 0)
    assert stored == [Decimal(repr(0.1 + 0.2)), Decimal(repr(1 / 3))]


def test_rejections_roll_back_with_the_load(db):
    with db.connect() as conn:
        loader.load(conn, _target(conn), [[dict(GOOD, id=1, i4=2**31)]], quarantine=Quarantine("test/values"))
        assert conn.execute("SELECT count(*) FROM ops.rejected_values").fetchone()[0] == 1
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM ops.rejected_values").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM s.v").fetchone()[0] == 0


def test_producer_rejections_are_recorded_with_the_load_and_counted(db):
    quarantine = Quarantine("test/values", "p1", "run-9")

    def chunks():
        quarantine.skip_row("s.v", {"id": 5}, "payload", "malformed upstream", value={"x": 1})
        yield [dict(GOOD, id=1)]

    with db.connect() as conn:
        result = loader.load(conn, _target(conn), chunks(), quarantine=quarantine)
        rows = conn.execute("SELECT run_id, row_key, column_name, action, value FROM ops.rejected_values").fetchall()
    assert result.skipped == 1 and result.as_metadata()["rows_skipped"] == 1
    assert rows == [("run-9", {"id": 5}, "payload", "row_skipped", "{'x': 1}")]


def test_without_ops_rejected_values_a_bad_value_fails_the_load_naming_it(fresh_db):
    with fresh_db.connect() as conn:
        conn.execute("CREATE TABLE kv (k text PRIMARY KEY, v integer)")
        target = loader.describe_table(conn, "public", "kv")
        with pytest.raises(LoadError, match=r"public.kv \(k='a'\) column v: 4294967296 is out of range"):
            loader.load(conn, target, [{"k": ["a"], "v": [2**32]}])
