"""SourceDatabase against a real PostgreSQL holding the sandbox Chatwoot database."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from resources.source.errors import SourceConnectionError, SourceReadError, SourceSchemaError
from resources.source.url import parse_url, safe_url
from resources.source_db import SourceDatabase
from resources.support.redaction import redact
from vetorial_assets.chatwoot.transform import SOURCE_COLUMNS
from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME, SandboxChatwoot

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
CONTRACT = list(SOURCE_COLUMNS)  # what the Chatwoot assets read
PASSWORD = "s3cr3t-Pw_do_not_log"


@pytest.fixture
def sandbox(fresh_db) -> SandboxChatwoot:
    sb = SandboxChatwoot(fresh_db.url)
    sb.create()
    sb.seed(conversations_per_inbox=40, anchor=ANCHOR)
    return sb


@pytest.fixture
def make_source(sandbox):
    made: list[SourceDatabase] = []

    def factory(**config) -> SourceDatabase:
        source = SourceDatabase(url=config.pop("url", sandbox.url), **config)
        made.append(source)
        return source

    yield factory
    for source in made:
        source.dispose()


@pytest.fixture
def source(make_source) -> SourceDatabase:
    return make_source()


def with_password(url: str) -> str:
    # The embedded server trusts unix-socket connections, so the password is carried, unused.
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def expected(sb: SandboxChatwoot, columns, account_id, inbox_ids=None, since=None) -> list[tuple]:
    with sb.connect() as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(
            f"SELECT {', '.join(columns)} FROM {VIEW_NAME} WHERE account_id = %s "
            "AND (%s::int[] IS NULL OR inbox_id = ANY(%s::int[])) "
            "AND (%s::timestamptz IS NULL OR conversation_updated_at > %s) "
            "ORDER BY conversation_updated_at, conversation_id",
            (account_id, inbox_ids, inbox_ids, since, since),
        ).fetchall()


def collect(chunks) -> list[tuple]:
    return [row for chunk in chunks for row in chunk]


# ---------------------------------------------------------------- schema verification


def test_verify_schema_passes_and_reports_extra_columns(source, caplog):
    with caplog.at_level(logging.DEBUG):
        extra = source.verify_schema(CONTRACT)
    assert extra == ["display_id", "conversation_last_activity_at"]
    # Returned, not logged: the caller reports them once (the sync as a run warning).
    assert "display_id" not in caplog.text


def test_verify_schema_lists_every_missing_column_in_one_error(sandbox, make_source):
    with sandbox.connect() as conn:
        kept = [c for c in CONTRACT if c not in ("is_lead", "visit_scheduled")]
        conn.execute(f"CREATE VIEW vw_old_shape AS SELECT {', '.join(kept)} FROM {VIEW_NAME}")
    source = make_source(relation="vw_old_shape")
    with pytest.raises(SourceSchemaError) as err:
        source.verify_schema(CONTRACT)
    message = str(err.value)
    assert "public.vw_old_shape" in message and "2 column(s)" in message
    assert "is_lead" in message and "visit_scheduled" in message
    # stream checks before reading anything, with the same error.
    with pytest.raises(SourceSchemaError, match="is_lead, visit_scheduled"):
        next(source.stream(CONTRACT, 1, [14, 15]))


def test_missing_relation_and_non_timestamp_watermark_are_clear_errors(sandbox, make_source):
    with pytest.raises(SourceSchemaError, match="'nope' does not exist"):
        make_source(relation="nope").verify_schema(CONTRACT)
    with pytest.raises(SourceSchemaError, match="watermark column 'status' is text"):
        make_source(watermark_column="status").verify_schema(CONTRACT)


def test_schema_qualified_relation(sandbox, make_source):
    with sandbox.connect() as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute(f"CREATE VIEW analytics.conversas AS SELECT * FROM {VIEW_NAME}")
    source = make_source(relation="analytics.conversas")
    assert source.describe().qualified == "analytics.conversas"
    assert len(collect(source.stream(["conversation_id"], 2, [21]))) == 40


# ---------------------------------------------------------------- reading


def test_full_stream_equals_the_view_for_the_tenant_in_chunks(sandbox, source):
    chunks = list(source.stream(CONTRACT, 1, [14, 15], chunk_rows=7))
    assert all(0 < len(chunk) <= 7 for chunk in chunks) and len(chunks) == -(-80 // 7)
    rows = collect(chunks)
    assert rows == expected(sandbox, CONTRACT, 1, [14, 15])
    # timestamps are aware UTC datetimes
    created = rows[0][CONTRACT.index("conversation_created_at")]
    assert created.utcoffset() == timedelta(0)


def test_stream_since_returns_exactly_the_later_rows(sandbox, source):
    everything = expected(sandbox, ["conversation_id", "conversation_updated_at"], 1, [14, 15])
    since = everything[len(everything) // 2][1]
    rows = collect(source.stream(["conversation_id", "conversation_updated_at"], 1, [14, 15], since=since))
    assert rows == [r for r in everything if r[1] > since]
    assert rows and all(r[1] > since for r in rows)
    later = since.astimezone(ZoneInfo("America/Sao_Paulo"))  # any zone: compared as an instant
    assert collect(source.stream(["conversation_id"], 1, [14, 15], since=later)) == [(r[0],) for r in rows]
    with pytest.raises(ValueError, match="timezone-aware"):
        next(source.stream(["conversation_id"], 1, [14, 15], since=since.replace(tzinfo=None)))


def test_tenant_filter(sandbox, source):
    tenant = {r[0] for r in collect(source.stream(["inbox_id"], 1, [14, 15]))}
    whole_account = {r[0] for r in collect(source.stream(["inbox_id"], 1))}
    other = set(collect(source.stream(["account_id", "inbox_id"], 2, [21])))
    assert tenant == {14, 15}
    assert whole_account == {14, 15, 16}  # no inbox ids: the whole account
    assert other == {(2, 21)}
    assert collect(source.stream(["inbox_id"], 2, [14])) == []  # inbox of another account


def test_stream_unordered_returns_the_same_rows(sandbox, source):
    rows = collect(source.stream(CONTRACT, 2, [21], ordered=False, chunk_rows=9))
    assert sorted(rows, key=lambda r: r[0]) == sorted(expected(sandbox, CONTRACT, 2, [21]), key=lambda r: r[0])


def test_stream_reads_one_snapshot(sandbox, source):
    stream = source.stream(["conversation_id"], 2, [21], chunk_rows=5)
    first = next(stream)
    sandbox.add(2, 21, 3)  # committed while the stream is open
    sandbox.delete([r[0] for r in first[:2]])
    rest = collect(stream)
    assert len(first) + len(rest) == 40  # neither the new rows nor the deletions show up


def test_closing_a_stream_early_returns_the_connection(source):
    stream = source.stream(["conversation_id"], 1, [14, 15], chunk_rows=5)
    next(stream)
    assert source.engine.pool.checkedout() == 1
    stream.close()
    assert source.engine.pool.checkedout() == 0
    assert not [t for t in threading.enumerate() if t.name == "source-db-fetch"]
    assert len(collect(source.stream(["conversation_id"], 1, [14, 15]))) == 80  # pool still healthy


def test_a_failing_fetch_surfaces_in_the_consumer(sandbox, make_source):
    with sandbox.connect() as conn:  # every row costs 50 ms: the 200 ms statement timeout fires
        conn.execute(f"CREATE VIEW vw_slow AS SELECT * FROM {VIEW_NAME} WHERE pg_sleep(0.05) IS NOT NULL")
    slow = make_source(relation="vw_slow", statement_timeout_ms=200)
    with pytest.raises(SourceReadError, match="statement timeout .statement_timeout_ms=200") as err:
        collect(slow.stream(["conversation_id"], 2, [21], chunk_rows=1000))
    assert "relation vw_slow" in str(err.value) and err.value.__cause__ is None
    assert slow.engine.pool.checkedout() == 0


def test_every_transaction_is_read_only(sandbox, source):
    with source.read_only_transaction() as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        assert conn.execute("SHOW transaction_isolation").fetchone()[0] == "repeatable read"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("UPDATE conversations SET status = 1")
    with source.read_only_transaction() as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE vetorial_was_here (id int)")
    # Even outside read_only_transaction, a pooled connection starts READ ONLY transactions.
    fairy = source.engine.raw_connection()
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            fairy.driver_connection.execute("DELETE FROM messages")
    finally:
        fairy.close()
    assert len(expected(sandbox, ["conversation_id"], 1)) == 90  # 40 + 40 + 10 in inbox 16: nothing changed


def test_max_watermark_and_count(sandbox, source):
    rows = expected(sandbox, ["conversation_updated_at"], 1, [14, 15])
    assert source.max_watermark(1, [14, 15]) == rows[-1][0]
    assert source.count(1, [14, 15]) == 80
    assert source.count(1, [14, 15], since=rows[-11][0]) == 10
    assert source.max_watermark(3, [99]) is None
    at = datetime(2025, 6, 20, tzinfo=UTC)
    sandbox.touch(sandbox.conversation_ids(2)[:1], at=at)
    assert source.max_watermark(2, [21]) == at
    assert source.max_watermark(1, [14, 15]) == rows[-1][0]  # the other tenant did not move


def test_max_watermark_is_an_index_probe(sandbox, source):
    with source.read_only_transaction() as conn:
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                f"EXPLAIN SELECT conversation_updated_at FROM {VIEW_NAME} WHERE account_id = 1 "
                "AND inbox_id = ANY('{14,15}') AND conversation_updated_at IS NOT NULL "
                "ORDER BY conversation_updated_at DESC LIMIT 1"
            )
        )
    assert "Index Scan Backward using vetorial_conversations_account_updated_utc" in plan
    assert "messages" not in plan and "contacts" not in plan  # view joins planned away


def test_stream_keys(sandbox, source):
    keys = [k for chunk in source.stream_keys(1, [14, 15], chunk_rows=30) for k in chunk]
    assert sorted(keys) == sandbox.conversation_ids(1, [14, 15])
    sandbox.delete(keys[:3])
    after = {k for chunk in source.stream_keys(1, [14, 15]) for k in chunk}
    assert after == set(keys[3:])


def test_naive_timestamp_source_is_read_as_utc(sandbox, make_source):
    # A source view exposing Chatwoot's raw `timestamp without time zone` columns.
    with sandbox.connect() as conn:
        conn.execute(
            "CREATE VIEW vw_raw AS SELECT id AS conversation_id, account_id, inbox_id, "
            "created_at AS conversation_created_at, updated_at AS conversation_updated_at FROM conversations"
        )
    raw = make_source(relation="vw_raw")
    assert raw.describe().columns["conversation_updated_at"] == "timestamp without time zone"
    cols = ["conversation_id", "conversation_created_at", "conversation_updated_at"]
    rows = collect(raw.stream(cols, 2, [21]))
    assert rows == expected(sandbox, cols, 2, [21])  # the UTC view: same instants, aware
    since = rows[29][2]
    assert [r[0] for r in collect(raw.stream(cols, 2, [21], since=since))] == [r[0] for r in rows[30:]]
    assert raw.max_watermark(2, [21]) == rows[-1][2]
    # Another source zone reads the same wall-clock values as different instants.
    sp = make_source(relation="vw_raw", source_timezone="America/Sao_Paulo")
    assert sp.max_watermark(2, [21]) == rows[-1][2] + timedelta(hours=3)


def test_wire_columns_come_undecoded_in_their_binary_format(sandbox, source):
    rel = source.describe()
    wire = {c: rel.type_oids[c] for c in ("labels", "ai_probability_score", "status")}
    cols = ["conversation_id", *wire]
    rows = sorted(collect(source.stream(cols, 2, [21], wire=wire)))
    with sandbox.connect() as conn:
        sent = conn.execute(
            f"SELECT conversation_id, array_send(labels), numeric_send(ai_probability_score), textsend(status)"
            f" FROM {VIEW_NAME} WHERE account_id = 2 ORDER BY conversation_id"
        ).fetchall()
    assert rows == [tuple(v if v is None or isinstance(v, int) else bytes(v) for v in r) for r in sent]
    assert all(isinstance(r[1], bytes) for r in rows)
    # A wire column of another type than the caller expects fails before anything is read.
    with pytest.raises(SourceSchemaError, match="'status' is text"):
        next(source.stream(cols, 2, [21], wire={**wire, "status": rel.type_oids["labels"]}))


def test_first_fetches_are_small_then_grow_to_chunk_rows(sandbox, source, monkeypatch):
    from resources.source import reader

    monkeypatch.setattr(reader, "_FIRST_FETCH", 3)
    sizes = [len(chunk) for chunk in source.stream(["conversation_id"], 2, [21], chunk_rows=10)]
    assert sizes == [3, 6, 10, 10, 10, 1]


@pytest.mark.parametrize("depth", [0, 1])
def test_every_chunk_arrives_however_the_fetches_interleave_with_the_consumer(sandbox, source, monkeypatch, depth):
    # The consumer parses and closes each FETCH's cursor. With the fetches run inline (or a
    # fetching thread that checks its cursor late), that close used to come before the
    # producer read the cursor's row count to tell whether the result was exhausted: it saw
    # -1 and stopped after the first chunk, a silently short read.
    from resources.source import reader
    from resources.support import read_ahead as read_ahead_module

    monkeypatch.setattr(
        reader, "read_ahead", lambda items, depth_=1, name="", **kw: read_ahead_module.read_ahead(items, depth, name)
    )
    rows = collect(source.stream(CONTRACT, 1, [14, 15], chunk_rows=7))
    assert rows == expected(sandbox, CONTRACT, 1, [14, 15])


# ---------------------------------------------------------------- secrets


def test_password_never_shows(sandbox, make_source):
    url = with_password(sandbox.url)
    source = make_source(url=url)
    assert PASSWORD not in source.safe_url() and "***" in source.safe_url()
    assert PASSWORD not in repr(source) and PASSWORD not in str(source)
    assert source.count(2, [21]) == 40  # the URL works
    assert PASSWORD not in redact(f"Traceback ... {PASSWORD} ...")  # registered with the project's redaction
    with pytest.raises(SourceSchemaError) as schema_err:
        make_source(url=url, relation="nope").verify_schema(CONTRACT)
    assert PASSWORD not in str(schema_err.value) and "***" in str(schema_err.value)
    unreachable = make_source(
        url=f"postgresql://someone:{PASSWORD}@/chatwoot?host=/nonexistent-dir&port=5999", connect_timeout=2
    )
    with pytest.raises(SourceConnectionError) as conn_err:
        unreachable.max_watermark(1, [14])
    assert PASSWORD not in str(conn_err.value) and conn_err.value.__cause__ is None
    assert "cannot connect" in str(conn_err.value)


def test_url_helpers_do_not_echo_bad_input():
    with pytest.raises(ValueError) as err:
        parse_url(f"not a url {PASSWORD}")
    assert PASSWORD not in str(err.value)
    assert (
        safe_url(f"postgres://u:{PASSWORD}@db.example:5432/chatwoot")
        == "postgresql+psycopg://u:***@db.example:5432/chatwoot"
    )
