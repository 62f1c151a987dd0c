"""Bad input, Chatwoot (issue 11, build 5).

Pure: generated source rows (good and hostile values in every column, timestamps as
datetimes of any zone, ISO 8601 text and text that is no timestamp) through the transform:
a good value comes out as the same value (timestamps as the same instant in UTC), a bad one
comes out untouched for the load path to refuse and record, nothing is guessed ("now" is no
timestamp), and nothing raises. End to end: a Chatwoot source view returning hostile values
(emoji, right-to-left and SQL-looking text, a 100,000-character name, text timestamps such
as 'now', counts past bigint, a NULL key) synced through Dagster: every good row lands as the
source has it, each bad value is in ops.rejected_values naming the conversation and column,
and the rows loaded before stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.bad_input_budget import examples
from vetorial_assets.chatwoot.transform import SOURCE_COLUMNS, TIMESTAMP_COLUMNS, _to_utc, to_raw_frame

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NOT_TIMESTAMPS = [
    "now",
    "today",
    "tomorrow",
    "yesterday",
    "5:30",
    "Jan 5",
    "1/2/2024",
    "02/01/2024",
    "2024",
    "12",
    "2024-13-45",
    "2024-02-30T10:00",
    "99999-01-01",
    "1e5",
    "",
    "  ",
    "NaN",
    "null",
    "'; DROP TABLE raw.conversas_analytics; --",
    "2024-01-02 03:04:05 BRT",
]
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=-3)),
        timezone(timedelta(hours=5, minutes=30)),
        SAO_PAULO,
        ZoneInfo("Asia/Tokyo"),
        None,
    ]
)
instants = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=zones)


@st.composite
def timestamps(draw):
    """(source value, the UTC instant it means, or None when it means none)."""
    kind = draw(st.integers(0, 5))
    if kind <= 1:
        ts = draw(instants)
        return ts, (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC))
    if kind == 2:  # ISO 8601 text, as a text column of the source would hold it
        ts = draw(instants)
        text = ts.isoformat(sep=draw(st.sampled_from(["T", " "])))
        if ts.tzinfo is UTC and draw(st.booleans()):
            text = text.replace("+00:00", "Z")
        return f" {text} " if draw(st.booleans()) else text, (
            ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        )
    if kind == 3:
        return None, None
    value = draw(
        st.one_of(
            st.sampled_from(NOT_TIMESTAMPS),
            st.integers(),
            st.floats(),
            st.booleans(),
            st.dates(),
            st.just(Decimal("1.5")),
            st.just(["2024-01-01"]),
        )
    )
    return value, "unchanged"


texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["Promoção 😀", "עברית ومرحبا", "\u202eevil", "'; DROP TABLE x; --", "a\x00b", "x" * 3000]),
)
others = st.one_of(
    texts,
    st.integers(-(2**70), 2**70),
    st.none(),
    st.booleans(),
    st.floats(),
    st.decimals(allow_nan=True),
    st.lists(texts, max_size=3),
)
labels = st.one_of(
    st.lists(st.one_of(texts, st.none(), st.integers()), max_size=4),
    texts,
    st.none(),
    st.tuples(texts),
    st.frozensets(st.text(max_size=5), max_size=2),
    st.integers(),
    st.just({"a": 1}),
)


@st.composite
def source_rows(draw):
    n = draw(st.integers(0, 8))
    rows, meant = [], []
    for _ in range(n):
        row, want = [], {}
        for column in SOURCE_COLUMNS:
            if column in TIMESTAMP_COLUMNS:
                value, instant = draw(timestamps())
                want[column] = instant
            elif column == "labels":
                value = draw(labels)
            else:
                value = draw(others)
            row.append(value)
        rows.append(tuple(row))
        meant.append(want)
    return rows, meant


def _labels(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (tuple, frozenset)):
        return list(value)
    return value


@settings(max_examples=examples(150), deadline=None)
@given(source_rows())
@example(
    (
        [tuple("now" if c in TIMESTAMP_COLUMNS else None for c in SOURCE_COLUMNS)],
        [{c: "unchanged" for c in TIMESTAMP_COLUMNS}],
    )
)
def test_the_transform_passes_good_values_on_exactly_and_guesses_nothing(case):
    rows, meant = case
    frame = to_raw_frame(rows, SOURCE_COLUMNS, "tenant-😀")
    assert list(frame.columns) == [*SOURCE_COLUMNS, "tenant_id", "conversation_date", "deleted_at"]
    for i, (row, want) in enumerate(zip(rows, meant)):
        got = frame.iloc[i].to_dict()
        for j, column in enumerate(SOURCE_COLUMNS):
            source = row[j]
            if column in TIMESTAMP_COLUMNS:
                if want[column] == "unchanged":
                    # Not a timestamp: passed on as it is (the load path refuses and records it).
                    assert got[column] is source or got[column] == source or (got[column] != got[column]), column
                    assert not isinstance(got[column], datetime) or isinstance(source, datetime)
                else:
                    assert got[column] == want[column] and (want[column] is None or got[column].tzinfo is UTC)
            elif column == "labels":
                assert got[column] == _labels(source) or (
                    isinstance(source, frozenset) and sorted(got[column]) == sorted(source)
                )
            else:
                assert got[column] is source or (source != source and got[column] != got[column])
        created = got["conversation_created_at"]
        expected_day = (
            created.astimezone(SAO_PAULO).date()
            if isinstance(created, datetime) and created.tzinfo and created.year > 1
            else None
        )
        assert got["conversation_date"] == expected_day or (created is not None and created.year == 1)
        assert got["tenant_id"] == "tenant-😀" and got["deleted_at"] is None


def test_text_that_is_no_iso_timestamp_is_never_read_as_one():
    # Regression: pandas' parser read 'now' as the current time (moving the watermark past rows
    # not read yet), '5:30' as today and '1/2/2024' as January 2nd.
    for text in NOT_TIMESTAMPS:
        assert _to_utc(text) == text
    assert _to_utc("2024-01-02 03:04:05-03:00") == datetime(2024, 1, 2, 6, 4, 5, tzinfo=UTC)
    assert _to_utc(" 2024-01-02T03:04:05Z ") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert _to_utc(np.datetime64("NaT")) is None


def test_a_creation_time_at_the_start_of_year_one_has_no_local_date_rather_than_an_error():
    frame = to_raw_frame(
        [tuple(datetime(1, 1, 1, 1, tzinfo=UTC) if c in TIMESTAMP_COLUMNS else 1 for c in SOURCE_COLUMNS)],
        SOURCE_COLUMNS,
        "t",
    )
    assert frame.iloc[0]["conversation_date"] is None


# ----------------------------------------------------------------------------- end to end

TENANT, ACCOUNT, INBOXES = "allpfit", 1, (14, 15)
HUGE_NAME = ("Nome 😀 עברית " * 8000)[:100_000]
# The sandbox view's columns, hostile for the special conversations (by id). The creation
# time comes from a text column, as a hand-made view might have it (the watermark column must
# be a timestamp: the sync refuses another type before reading).
HOSTILE_VIEW = """
ALTER VIEW vw_conversations_analytics_final RENAME TO vw_base;
CREATE VIEW vw_conversations_analytics_final AS
SELECT
    CASE WHEN b.conversation_id = {null_id} THEN NULL ELSE b.conversation_id END AS conversation_id,
    b.account_id, b.inbox_id, b.inbox_name, b.channel_type, b.contact_id,
    CASE b.conversation_id WHEN {sql_id} THEN $$Robert'); DROP TABLE raw.conversas_analytics;--$$
                           WHEN {huge_id} THEN {huge_name}
                           WHEN {rtl_id} THEN 'Ação 😀 עברית ومرحبا ' || chr(8238) || 'evil'
                           ELSE b.contact_name END AS contact_name,
    b.contact_phone, b.contact_email, b.status, b.assignee_id,
    CASE WHEN b.conversation_id = {sql_id} THEN ARRAY['lead', $$'; DELETE FROM ops.etl_control; --$$, '😀']
         ELSE b.labels END AS labels,
    CASE WHEN b.conversation_id = {now_id} THEN 'now'
         WHEN {bad_created} THEN 'ontem às 5:30'
         ELSE to_char(b.conversation_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END AS conversation_created_at,
    b.conversation_updated_at, b.first_response_at,
    CASE WHEN b.conversation_id = {big_id} THEN '9223372036854775808'
         WHEN {bad_count} THEN '1,234'
         ELSE b.message_count::text END AS message_count,
    b.is_lead, b.visit_scheduled, b.crm_converted, b.ai_probability_label,
    CASE WHEN b.conversation_id = {big_id} THEN 'NaN'::numeric ELSE b.ai_probability_score END
        AS ai_probability_score
FROM vw_base b
"""


def _ids(source) -> list[int]:
    with source.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT id FROM conversations WHERE account_id = %s AND inbox_id = ANY(%s) ORDER BY updated_at, id",
                (ACCOUNT, list(INBOXES)),
            )
        ]


def _stored(db) -> dict[int, tuple]:
    with db.connect() as conn:
        return {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT conversation_id, contact_name, labels, conversation_created_at, conversation_updated_at,"
                " message_count, ai_probability_score, deleted_at IS NOT NULL FROM raw.conversas_analytics"
                " WHERE tenant_id = %s",
                (TENANT,),
            )
        }


def test_a_source_view_returning_hostile_values_lands_every_good_one_and_records_the_rest(
    make_defs, instance, vetorial_env, chatwoot_source
):
    from vetorial_assets.chatwoot.schedules import JOB_NAME

    defs = make_defs()

    def sync(**config):
        run_config = {"ops": {"raw__conversas_analytics": {"config": config}}} if config else None
        return defs.resolve_job_def(JOB_NAME).execute_in_process(
            instance=instance, partition_key=TENANT, run_config=run_config
        )

    assert sync().success
    before = _stored(vetorial_env)
    ids = _ids(chatwoot_source)
    special = {
        "null_id": ids[0],
        "sql_id": ids[1],
        "huge_id": ids[2],
        "rtl_id": ids[3],
        "now_id": ids[4],
        "big_id": ids[5],
    }
    params = {k: sql.Literal(v) for k, v in special.items()}
    with chatwoot_source.connect() as conn:
        conn.execute(
            sql.SQL(HOSTILE_VIEW).format(
                huge_name=sql.Literal(HUGE_NAME),
                bad_created=sql.SQL("b.conversation_id = {}").format(sql.Literal(ids[6])),
                bad_count=sql.SQL("b.conversation_id = {}").format(sql.Literal(ids[7])),
                **params,
            )
        )
        conn.commit()
    result = sync(reconcile=True)  # re-reads the whole tenant whatever the watermark
    assert result.success

    stored = _stored(vetorial_env)
    # The NULL-key row is left out. Its stored version stays with its values; the source no
    # longer shows its id, so the reconcile marks it deleted (soft: cleared when it comes
    # back). Nothing else of the tenant is lost or marked.
    assert set(stored) == set(before)
    assert stored[special["null_id"]][:6] == before[special["null_id"]][:6] and stored[special["null_id"]][6]
    assert [cid for cid, row in stored.items() if row[6]] == [special["null_id"]]
    assert stored[special["now_id"]][2] is None  # 'now' is no timestamp: NULL, not the time of the run
    assert stored[special["sql_id"]][0] == "Robert'); DROP TABLE raw.conversas_analytics;--"
    assert stored[special["sql_id"]][1] == ["lead", "'; DELETE FROM ops.etl_control; --", "😀"]
    assert stored[special["huge_id"]][0] == HUGE_NAME  # 100,000 characters, not cut
    assert stored[special["rtl_id"]][0] == "Ação 😀 עברית ومرحبا \u202eevil"
    assert stored[special["big_id"]][4] is None and stored[special["big_id"]][5].is_nan()
    assert stored[ids[6]][2] is None  # 'ontem às 5:30' is no timestamp: NULL, not a guess
    assert stored[ids[7]][4] is None  # '1,234' is no bigint
    for cid in set(stored) - {special["now_id"], special["null_id"], special["big_id"], ids[6], ids[7]}:
        # Every other value as the source has it (creation times through ISO text, same instant).
        assert stored[cid][2:5] == before[cid][2:5], cid

    with vetorial_env.connect() as conn:
        rejected = conn.execute(
            "SELECT row_key->>'conversation_id', column_name, action, reason FROM ops.rejected_values"
            " WHERE run_id = %s ORDER BY 1, 2",
            (result.run_id,),
        ).fetchall()
        assert conn.execute("SELECT count(*) FROM raw.conversas_analytics WHERE message_count < 0").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('raw.conversas_analytics') IS NOT NULL").fetchone() == (True,)
    by_key = {(r[0], r[1]): r for r in rejected}
    assert (None, "conversation_id") in by_key and by_key[(None, "conversation_id")][2] == "row_skipped"
    now_row = by_key[(str(special["now_id"]), "conversation_created_at")]
    assert now_row[2] == "nulled" and "str value 'now' is not a timestamp with time zone" in now_row[3]
    assert by_key[(str(ids[6]), "conversation_created_at")][2] == "nulled"
    assert "out of range for bigint" in by_key[(str(special["big_id"]), "message_count")][3]
    assert "'1,234' is not a bigint" in by_key[(str(ids[7]), "message_count")][3]
    assert {k for k in by_key} == {
        (None, "conversation_id"),
        (str(special["now_id"]), "conversation_created_at"),
        (str(ids[6]), "conversation_created_at"),
        (str(special["big_id"]), "message_count"),
        (str(ids[7]), "message_count"),
    }


def test_text_into_bigint_is_read_as_postgresql_reads_it():
    from vetorial_assets.chatwoot.source_types import _text_to_int

    # Python's int() also takes other scripts' digits and '1_000'; PostgreSQL's bigint does not.
    assert [_text_to_int(v) for v in (" 42 ", "-7", "١٢", "1_000", "1,234", "4" * 30)] == [
        42,
        -7,
        "١٢",
        "1_000",
        "1,234",
        int("4" * 30),
    ]
