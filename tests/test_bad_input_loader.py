"""Bad input, the load path against real PostgreSQL (issue 11, build 5).

Generated batches for the real warehouse tables (raw.conversas_analytics, raw.ig_follows,
raw.meta_ads_insights, staging.insights_meta_ads), mixing good values and values their
columns cannot store in every column type (bigint, numeric, text, boolean, date,
timestamptz, text[], jsonb): out of range, fractional, NaN/Infinity, past numeric's range,
wrong Python types, NUL bytes and unpaired surrogates, naive timestamps, JSON PostgreSQL
refuses; and good ones at the edges (emoji, right-to-left and SQL-looking text, 100,000
characters, the ends of bigint). After loading on top of rows loaded before:

- every good row reads back exactly, value by value (nothing wrapped, rounded or cut);
- each bad value is one row of ops.rejected_values, naming table, key and column, with the
  action its column calls for (`nulled`, or `row_skipped` for a key / NOT NULL column);
- the rows loaded before stay: outside the replace scope untouched, and a row whose new
  version was left out keeps its old one when there is no replace scope.

Each example runs in one transaction that is rolled back: the database is set up once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resources.load import engine as loader
from resources.load.rejections import Quarantine, key_json
from resources.warehouse import Warehouse, describe_target
from tests.bad_input_budget import examples
from tests.conftest import _create_database, _drop_database
from vetorial_assets.warehouse.tables import (
    conversas_analytics_raw,
    ig_follows_raw,
    insights_meta_ads,
    meta_ads_insights_raw,
)

BAD = object()  # marks a value the column cannot store
INT64 = (-(2**63), 2**63 - 1)

# ----------------------------------------------------------------------------- values per type
# Each strategy draws (value given to the loader, what reads back) or (value, BAD).

good_text = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(
        [
            "Ação 😀🔥",
            "עברית ومرحبا",
            "\u202eevil\u202c",
            "'; DROP TABLE raw.ig_follows; --",
            "Robert'); DELETE FROM ops.rejected_values;--",
            "%s %(x)s {0} $1",
            "NULL",
            "\\x00",
            "é" * 100_000,
        ]
    ),
)
# A float NaN is the load path's missing-value marker (NULL), never a bad value.
bad_text = st.one_of(
    st.sampled_from(["a\x00b", "\x00", "a\ud800", "\udfff"]),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.just(["a"]),
    st.just({"a": 1}),
    st.just(b"bytes"),
    st.just(Decimal("1.5")),
    st.just(date(2025, 1, 1)),
)
good_bigint = st.one_of(
    st.integers(*INT64),
    st.sampled_from(list(INT64)),
    st.integers(-(2**52), 2**52).map(float),
    st.integers(-(10**18), 10**18).map(Decimal),
)
bad_bigint = st.one_of(
    st.integers(2**63, 2**80),
    st.integers(-(2**80), -(2**63) - 1),
    st.floats(allow_nan=False).filter(lambda x: not (math.isfinite(x) and x == int(x))),
    st.floats(2.0**63, 1e300),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("2.5"), True, False, "12", "1,234", [1], {"n": 1}]),
)
good_numeric = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(-(10**40), 10**40),
    st.sampled_from(
        [
            Decimal("NaN"),
            Decimal("Infinity"),
            Decimal("-Infinity"),
            Decimal("1e131071"),
            Decimal("1e-16383"),
            Decimal("0.75"),
            Decimal("100"),
        ]
    ),
)
bad_numeric = st.sampled_from(
    [
        Decimal("1e131072"),
        Decimal("-1e200000"),
        Decimal("1e-16384"),
        Decimal("1." + "0" * 16384),
        "87.5",
        True,
        [1],
        10**131072,
    ]
)
good_bool = st.booleans()
bad_bool = st.sampled_from([1, 0, "true", "t", 1.0, Decimal(1), [True]])
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=14)), ZoneInfo("America/Sao_Paulo")]
)
good_timestamptz = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=zones)
bad_timestamptz = st.one_of(
    st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)),  # naive
    st.sampled_from(["2025-01-02T03:04:05Z", "now", 1735787045, date(2025, 1, 2), 1.5]),
)
good_date = st.dates(date(1, 1, 1), date(9999, 12, 31))
bad_date = st.one_of(
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).filter(lambda d: d.time() != d.min.time()),
    st.sampled_from(["2025-01-02", 20250102, 1.5]),
)
good_labels = st.lists(st.one_of(good_text.filter(lambda s: len(s) < 50), st.none()), max_size=4)
bad_labels = st.one_of(
    st.sampled_from(["lead, vip", 5, {"a": 1}]), st.just(["ok", 3]), st.just(["a\x00"]), st.just(["\ud800"])
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=10),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=5).filter(lambda k: "\x00" not in k), children, max_size=3),
    ),
    max_leaves=8,
)
good_json = st.one_of(
    st.tuples(json_values, st.booleans()).map(lambda t: json.dumps(t[0], ensure_ascii=t[1])),
    st.dictionaries(st.text(max_size=4).filter(lambda k: "\x00" not in k), json_values, max_size=3),
    st.sampled_from(
        ['{"n": 1e300, "m": -1e-300}', '{"name": "😀 עברית", "sql": "\'; DROP TABLE x; --"}', "[" * 500 + "]" * 500]
    ),
)
bad_json = st.sampled_from(
    [
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": "x\\u0000"}',
        '["\\ud800"]',
        '{"n": 1e131072}',
        '{"n": 1e-20000}',
        {"a": float("nan")},
        {"a": {1, 2}},
        "a\x00",
    ]
)


def _pick(good, bad, nullable: bool):
    """(value, what reads back) or (value, BAD); None reads back as NULL when nullable."""
    options = [good.map(lambda v: (v, v)), good.map(lambda v: (v, v)), bad.map(lambda v: (v, BAD))]
    options.append(st.just((None, None if nullable else BAD)))
    return st.one_of(*options)


KIND = {
    "bigint": (good_bigint, bad_bigint),
    "text": (good_text, bad_text),
    "numeric": (good_numeric, bad_numeric),
    "boolean": (good_bool, bad_bool),
    "timestamptz": (good_timestamptz, bad_timestamptz),
    "date": (good_date, bad_date),
    "text[]": (good_labels, bad_labels),
    "jsonb": (good_json, bad_json),
    "double": (st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["1.5", 2**60, [1.0]])),
}


# ----------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Spec:
    table: object
    columns: dict[str, tuple[str, bool]]  # name -> (kind, nullable); key columns come from the table
    key: tuple[str, ...]
    scope: dict | None  # the asset's replace scope, or None


ACCOUNT, OTHER = "act_1001", "act_2002"
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 7)

SPECS = {
    "conversas_analytics": Spec(
        conversas_analytics_raw,
        {
            "tenant_id": ("text", False),
            "account_id": ("bigint", False),
            "inbox_id": ("bigint", True),
            "inbox_name": ("text", True),
            "contact_name": ("text", True),
            "contact_email": ("text", True),
            "assignee_id": ("bigint", True),
            "labels": ("text[]", True),
            "conversation_created_at": ("timestamptz", True),
            "conversation_updated_at": ("timestamptz", False),
            "message_count": ("bigint", True),
            "is_lead": ("boolean", True),
            "ai_probability_score": ("numeric", True),
            "conversation_date": ("date", True),
        },
        ("conversation_id",),
        None,
    ),
    "ig_follows": Spec(
        ig_follows_raw,
        {
            "status": ("text", False),
            "follows": ("bigint", True),
            "unfollows": ("bigint", True),
            "net": ("bigint", True),
            "payload": ("jsonb", False),
        },
        ("ig_account_id", "data_registro"),
        None,
    ),
    "meta_ads_insights": Spec(
        meta_ads_insights_raw,
        {
            "payload": ("jsonb", False),
            "content_hash": ("text", False),
            "fetched_at": ("timestamptz", False),
        },
        ("account_id", "data", "ad_id", "publisher_platform", "platform_position"),
        {"account_id": ACCOUNT, "data": (FIRST, LAST)},
    ),
    "insights_meta_ads": Spec(
        insights_meta_ads,
        {
            "data": ("date", False),
            "account_id": ("text", False),
            "ad_name": ("text", True),
            "campaign_name": ("text", True),
            "ad_id": ("text", False),
            "plataforma": ("text", False),
            "posicionamento": ("text", False),
            "valor_gasto": ("numeric", False),
            "impressoes": ("bigint", False),
            "alcance": ("bigint", False),
            "cliques": ("bigint", False),
            "leads_formulario": ("bigint", False),
            "leads_site": ("bigint", False),
            "leads_mensagem": ("bigint", False),
            "leads_total": ("bigint", False),
            "seguidores_instagram": ("bigint", False),
            "ctr": ("double", True),
        },
        ("hash_id",),
        {"account_id": ACCOUNT, "data": (FIRST, LAST)},
    ),
}


def _good_key(spec: Spec, i: int, inside: bool = True) -> dict:
    if spec.key == ("conversation_id",):
        return {"conversation_id": 10_000 + i}
    if spec.key == ("ig_account_id", "data_registro"):
        return {"ig_account_id": "17841400000000001", "data_registro": date(2025, 1, 1) + timedelta(days=i)}
    if spec.key == ("hash_id",):
        return {"hash_id": f"{i:032x}"}
    day = FIRST + timedelta(days=i % 7) if inside else FIRST - timedelta(days=1 + i % 30)
    return {
        "account_id": ACCOUNT if inside else OTHER,
        "data": day,
        "ad_id": str(10**17 + i),
        "publisher_platform": "facebook",
        "platform_position": "feed",
    }


@st.composite
def batches(draw, spec: Spec):
    n = draw(st.integers(1, 6))
    rows = []
    for i in range(n):
        key = _good_key(spec, i)
        row = {k: (v, v) for k, v in key.items()}
        if draw(st.integers(0, 7)) == 0:  # a key the column cannot store
            column = spec.key[0]
            kind = (
                "bigint" if column == "conversation_id" else ("date" if column in ("data", "data_registro") else "text")
            )
            row[column] = draw(st.one_of(KIND[kind][1], st.just(None))), BAD
        for column, (kind, nullable) in spec.columns.items():
            if column in spec.key:
                continue
            good, bad = KIND[kind]
            if column == "account_id" and spec.key == ("hash_id",):
                good = st.just(ACCOUNT)  # the scope: another account would be outside it
            if column == "data" and spec.key == ("hash_id",):
                good = st.dates(FIRST, LAST)
            row[column] = draw(_pick(good, bad, nullable))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the harness


@pytest.fixture(scope="module")
def warehouse(pg_server):
    db = _create_database(pg_server, "bad")
    Warehouse(url=db.url).ensure_schema()
    conn = psycopg.connect(db.conninfo)
    yield conn
    conn.close()
    _drop_database(db)


def _same(got, want) -> bool:
    if isinstance(want, Decimal) and want.is_nan():
        return isinstance(got, Decimal) and got.is_nan()
    return got == want


def _json_exact(value):
    """JSON as numbers mean it (Decimal): jsonb prints 1e300 as its 301 digits."""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _expected_stored(kind: str, value):
    if value is None:
        return None
    if kind == "bigint":
        return int(value)
    if kind == "numeric":
        return Decimal(value) if not isinstance(value, Decimal) else value
    if kind == "jsonb":
        return _json_exact(value)
    return value


def _canonical(rejections) -> list[str]:
    # Keys through JSON with numbers as floats: jsonb prints the float key 9.2e18 as its digits.
    return sorted(
        json.dumps([t, json.loads(json.dumps(k, default=str), parse_int=float), c, a], sort_keys=True)
        for t, k, c, a in rejections
    )


def _run(conn, spec: Spec, rows: list[dict], preload: bool):
    target = describe_target(conn, spec.table)
    names = list(spec.key) + [c for c in spec.columns if c not in spec.key]
    before: dict[tuple, dict] = {}
    if preload:  # rows loaded before: some keys come again in the batch, some are outside the scope
        old = []
        for i in range(len(rows) + 2):
            inside = i % 3 != 2
            key = _good_key(spec, i, inside=inside)
            if spec.key == ("hash_id",) and not inside:
                key = {"hash_id": f"f{i:031x}"}
            row = {**key, **_old_values(spec, i, inside)}
            old.append(row)
        loader.load(conn, target, [old], quarantine=Quarantine("test/preload"))
        before = {tuple(r[k] for k in spec.key): r for r in old}
    quarantine = Quarantine(f"test/{spec.table.name}", "p", "run-1")
    given = [{name: row[name][0] for name in names} for row in rows]
    result = loader.load(conn, target, [given], replace_scope=spec.scope, quarantine=quarantine)
    kinds = {c: k for c, (k, _n) in spec.columns.items()}
    # jsonb read as text and parsed with exact numbers; the rest as psycopg loads it.
    selected = ", ".join(f"{n}::text" if kinds.get(n) == "jsonb" else n for n in names)
    stored = {}
    for r in conn.execute(f"SELECT {selected} FROM {spec.table.fullname}").fetchall():
        row = dict(zip(names, r))
        for n in names:
            if kinds.get(n) == "jsonb" and row[n] is not None:
                row[n] = _json_exact(row[n])
        stored[tuple(r[: len(spec.key)])] = row
    rejected = conn.execute(
        "SELECT table_name, row_key, column_name, action FROM ops.rejected_values WHERE run_id = 'run-1'"
    ).fetchall()
    return result, before, stored, rejected


def _old_values(spec: Spec, i: int, inside: bool) -> dict:
    values = {
        "conversas_analytics": {
            "tenant_id": "old",
            "account_id": 1,
            "conversation_updated_at": datetime(2024, 1, 1, tzinfo=UTC),
            "message_count": i,
        },
        "ig_follows": {"status": "ok", "follows": i, "payload": '{"old": true}'},
        "meta_ads_insights": {
            "payload": '{"old": true}',
            "content_hash": "old",
            "fetched_at": datetime(2024, 1, 1, tzinfo=UTC),
        },
        "insights_meta_ads": {
            "data": FIRST if inside else FIRST - timedelta(days=3),
            "account_id": ACCOUNT if inside else OTHER,
            "ad_id": "old",
            "plataforma": "f",
            "posicionamento": "p",
            "valor_gasto": Decimal("1.5"),
            "impressoes": i,
            "cliques": 0,
            "leads_total": 0,
            "alcance": 0,
            "leads_formulario": 0,
            "leads_site": 0,
            "leads_mensagem": 0,
            "seguidores_instagram": 0,
        },
    }
    return values[spec.table.name]


def _in_scope(spec: Spec, row: dict) -> bool:
    if spec.scope is None:
        return False
    return row["account_id"] == ACCOUNT and FIRST <= row["data"] <= LAST


def _check(spec: Spec, rows, preload, outcome):
    result, before, stored, rejected = outcome
    names = list(spec.key) + [c for c in spec.columns if c not in spec.key]
    kinds = {**{k: "key" for k in spec.key}, **{c: k for c, (k, _n) in spec.columns.items()}}
    landed, expected_rejections = {}, []
    for row in rows:
        skipped = any(row[c][1] is BAD and (c in spec.key or not spec.columns[c][1]) for c in names)
        key = {k: row[k][0] for k in spec.key}
        for column in names:
            if row[column][1] is BAD:
                action = "row_skipped" if skipped else "nulled"
                expected_rejections.append((spec.table.fullname, key_json(key), column, action))
        if not skipped:
            landed[tuple(key.values())] = {
                c: (None if row[c][1] is BAD else _expected_stored(kinds[c], row[c][0])) for c in names
            }
    # Each bad value is recorded once, naming table, key, column, with its column's action.
    assert _canonical(rejected) == _canonical(expected_rejections)
    skipped_rows = sum(
        any(row[c][1] is BAD and (c in spec.key or not spec.columns[c][1]) for c in names) for row in rows
    )
    assert (result.rows, result.skipped) == (len(landed), skipped_rows)
    assert result.nulled == sum(r[3] == "nulled" for r in expected_rejections)
    # Every good row reads back exactly.
    for key, want in landed.items():
        got = stored[key]
        for column in names:
            assert _same(got[column], want[column]), (column, got[column], want[column])
    # The rows loaded before stay (outside the replace scope; and, without one, when their new
    # version was left out).
    for key, old in before.items():
        if key in landed:
            continue
        if spec.scope is not None and _in_scope(spec, old):
            assert key not in stored  # restated away: the batch is the scope's new content
        else:
            assert key in stored, key
            assert all(
                _same(stored[key][c], _expected_stored(kinds.get(c, "text"), old[c])) for c in names if c in old
            ), key
    assert len(stored) == len(landed) + sum(
        1 for k, old in before.items() if k not in landed and not (spec.scope and _in_scope(spec, old))
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_generated_batches_land_exactly_and_each_bad_value_is_recorded(warehouse, name):
    spec = SPECS[name]

    @settings(
        max_examples=examples(40),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rows=batches(spec), preload=st.booleans())
    def run(rows, preload):
        try:
            _check(spec, rows, preload, _run(warehouse, spec, rows, preload))
        finally:
            warehouse.rollback()

    run()


def test_an_integer_past_python_s_str_limit_is_recorded_not_a_crash(warehouse):
    # Regression: recording a 131,073-digit integer called str() on it, which Python refuses
    # past 4,300 digits: the ValueError escaped the load.
    target = describe_target(warehouse, conversas_analytics_raw)
    huge = 10**131072
    row = {
        "conversation_id": 1,
        "tenant_id": "t",
        "account_id": 1,
        "conversation_updated_at": datetime.now(UTC),
        "ai_probability_score": huge,
        "message_count": huge,
        "contact_name": huge,
    }
    try:
        result = loader.load(warehouse, target, [[row]], quarantine=Quarantine("test", "p", "run-huge"))
        reasons = dict(
            warehouse.execute(
                "SELECT column_name, reason FROM ops.rejected_values WHERE run_id = 'run-huge'"
            ).fetchall()
        )
    finally:
        warehouse.rollback()
    assert (result.rows, result.nulled) == (1, 3)
    assert "integer of 435412 bits is out of range for bigint" in reasons["message_count"]
    assert "more than 131072 digits (numeric)" in reasons["ai_probability_score"]
    assert "int value an integer of 435412 bits is not a text" in reasons["contact_name"]
