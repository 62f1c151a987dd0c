"""The sandbox Chatwoot database, against a real PostgreSQL: schema, seed, view, generator."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vetorial_assets.sandbox import chatwoot_db
from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME, SandboxChatwoot, ensure_sandbox_chatwoot

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
VIEW_COLUMNS = {
    "conversation_id": "integer",
    "account_id": "integer",
    "inbox_id": "integer",
    "inbox_name": "character varying",
    "channel_type": "character varying",
    "contact_id": "bigint",
    "contact_name": "character varying",
    "contact_phone": "character varying",
    "contact_email": "character varying",
    "status": "text",
    "assignee_id": "integer",
    "labels": "ARRAY",
    "conversation_created_at": "timestamp with time zone",
    "conversation_updated_at": "timestamp with time zone",
    "first_response_at": "timestamp with time zone",
    "message_count": "integer",
    "is_lead": "boolean",
    "visit_scheduled": "boolean",
    "crm_converted": "boolean",
    "ai_probability_label": "text",
    "ai_probability_score": "numeric",
}


@pytest.fixture
def sandbox(fresh_db) -> SandboxChatwoot:
    sb = SandboxChatwoot(fresh_db.url)
    sb.create()
    sb.seed(conversations_per_inbox=20, anchor=ANCHOR)
    return sb


def view_rows(sb: SandboxChatwoot, where: str = "TRUE", params=()) -> list[tuple]:
    with sb.connect() as conn:
        return conn.execute(f"SELECT * FROM {VIEW_NAME} WHERE {where} ORDER BY conversation_id", params).fetchall()


def row(sb: SandboxChatwoot, conversation_id: int) -> dict:
    with sb.connect() as conn:
        cur = conn.execute(f"SELECT * FROM {VIEW_NAME} WHERE conversation_id = %s", (conversation_id,))
        names = [d.name for d in cur.description]
        found = cur.fetchone()
    return dict(zip(names, found)) if found else {}


def test_create_is_idempotent_and_builds_chatwoot_tables(fresh_db):
    sb = SandboxChatwoot(fresh_db.url)
    sb.create()
    sb.create()
    with sb.connect() as conn:
        tables = {
            r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        }
        status_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'conversations' AND column_name = 'status'"
        ).fetchone()[0]
        updated_type = conn.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'conversations' AND column_name = 'updated_at'"
        ).fetchone()[0]
    assert {
        "accounts",
        "inboxes",
        "contacts",
        "contact_inboxes",
        "conversations",
        "messages",
        "tags",
        "taggings",
        "labels",
        "users",
        "account_users",
        VIEW_NAME,
    } <= tables
    # Chatwoot's own shapes: integer enum, UTC in timestamp without time zone.
    assert status_type == "integer"
    assert updated_type == "timestamp without time zone"
    assert not sb.is_seeded()


def test_view_has_every_contract_column_with_its_type(sandbox):
    with sandbox.connect() as conn:
        cols = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (VIEW_NAME,)
            ).fetchall()
        )
    for name, data_type in VIEW_COLUMNS.items():
        assert cols.get(name) == data_type, name


def test_seed_is_deterministic(fresh_db, make_db):
    first, second = SandboxChatwoot(fresh_db.url), SandboxChatwoot(make_db("cw").url)
    for sb in (first, second):
        sb.create()
        assert sb.seed(conversations_per_inbox=15, anchor=ANCHOR) == 15 * 3 + 15 // 4
    assert view_rows(first) == view_rows(second)
    with first.connect() as a, second.connect() as b:
        query = "SELECT conversation_id, message_type, created_at, content FROM messages ORDER BY id"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
    # Re-seeding replaces, and a different seed gives different data.
    first.seed(conversations_per_inbox=15, anchor=ANCHOR)
    assert view_rows(first) == view_rows(second)
    second.seed(conversations_per_inbox=15, anchor=ANCHOR, seed=8)
    assert view_rows(first) != view_rows(second)


def test_seed_covers_demo_tenants_with_realistic_rows(sandbox):
    rows = view_rows(sandbox)
    by_inbox: dict[int, int] = {}
    for r in rows:
        by_inbox[r[2]] = by_inbox.get(r[2], 0) + 1
    assert by_inbox == {14: 20, 15: 20, 16: 5, 21: 20}
    with sandbox.connect() as conn:
        accounts = dict(conn.execute("SELECT id, account_id FROM inboxes").fetchall())
        statuses = {r[0] for r in conn.execute(f"SELECT DISTINCT status FROM {VIEW_NAME}")}
        phones_ok = conn.execute(
            f"SELECT bool_and(contact_phone ~ '^\\+55[0-9]{{2}}9[0-9]{{8}}$') FROM {VIEW_NAME}"
        ).fetchone()[0]
        times = conn.execute(
            f"SELECT min(conversation_created_at), max(conversation_updated_at), "
            f"bool_and(conversation_updated_at >= conversation_created_at) FROM {VIEW_NAME}"
        ).fetchone()
        display = conn.execute(
            "SELECT account_id, min(display_id), max(display_id), count(*) FROM conversations "
            "GROUP BY account_id ORDER BY 1"
        ).fetchall()
    assert accounts == {14: 1, 15: 1, 16: 1, 21: 2}
    assert statuses <= {"open", "resolved", "pending", "snoozed"} and "resolved" in statuses
    assert phones_ok
    assert times[0] >= ANCHOR - timedelta(days=90) and times[1] <= ANCHOR and times[2]
    # Chatwoot's trigger numbers conversations 1..n per account.
    assert display == [(1, 1, 45, 45), (2, 1, 20, 20)]
    assert any(r[11] for r in rows) and any(r[16] for r in rows)  # some labels, some leads


def test_message_count_excludes_activity_messages(sandbox):
    with sandbox.connect() as conn:
        mismatches = conn.execute(
            f"SELECT count(*) FROM {VIEW_NAME} v WHERE v.message_count <> "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = v.conversation_id "
            " AND m.message_type IN (0, 1, 3))"
        ).fetchone()[0]
        activity = conn.execute("SELECT count(*) FROM messages WHERE message_type = 2").fetchone()[0]
    assert mismatches == 0
    assert activity > 0


def test_add_creates_conversations_at_the_given_time(sandbox):
    at = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)
    ids = sandbox.add(1, 15, 4, at=at)
    assert len(ids) == 4
    for cid in ids:
        r = row(sandbox, cid)
        assert (r["account_id"], r["inbox_id"], r["inbox_name"]) == (1, 15, "AllpFit Site")
        assert r["conversation_created_at"] == at and r["conversation_updated_at"] == at
        assert r["message_count"] >= 1 and r["contact_name"]
    with pytest.raises(ValueError, match="does not belong"):
        sandbox.add(2, 15, 1)
    # Without a time: the database clock, after the seed's data.
    (later,) = sandbox.add(2, 21, 1)
    assert row(sandbox, later)["conversation_updated_at"] > ANCHOR


def test_touch_bumps_only_the_given_conversations(sandbox):
    ids = sandbox.conversation_ids(1, [14])
    before = {cid: row(sandbox, cid) for cid in ids[:5]}
    at = datetime(2025, 7, 1, tzinfo=UTC)
    assert sandbox.touch(ids[:3], at=at) == 3
    for cid in ids[:3]:
        after = row(sandbox, cid)
        assert after["conversation_updated_at"] == at
        assert {
            k: v for k, v in after.items() if k not in ("conversation_updated_at", "conversation_last_activity_at")
        } == {
            k: v
            for k, v in before[cid].items()
            if k not in ("conversation_updated_at", "conversation_last_activity_at")
        }
    for cid in ids[3:5]:
        assert row(sandbox, cid) == before[cid]


def test_add_messages_can_leave_updated_at_behind(sandbox):
    cid = sandbox.conversation_ids(2)[0]
    before = row(sandbox, cid)
    at = datetime(2025, 6, 10, tzinfo=UTC)
    assert sandbox.add_messages([cid], at=at) == 1
    lagging = row(sandbox, cid)
    assert lagging["message_count"] == before["message_count"] + 1
    assert lagging["conversation_updated_at"] == before["conversation_updated_at"]  # Chatwoot's update_columns
    assert lagging["conversation_last_activity_at"] == at
    sandbox.add_messages([cid], at=at + timedelta(hours=1), bump_updated_at=True)
    bumped = row(sandbox, cid)
    assert bumped["message_count"] == before["message_count"] + 2
    assert bumped["conversation_updated_at"] == at + timedelta(hours=1)


def test_set_updated_at_builds_ties(sandbox):
    ids = sandbox.conversation_ids(1)[:6]
    tie = datetime(2025, 6, 5, 12, 0, 0, 123456, tzinfo=UTC)
    assert sandbox.set_updated_at(ids, tie) == 6
    with sandbox.connect() as conn:
        count = conn.execute(f"SELECT count(*) FROM {VIEW_NAME} WHERE conversation_updated_at = %s", (tie,)).fetchone()[
            0
        ]
    assert count == 6


def test_set_labels_drives_the_derived_flags(sandbox):
    cid = sandbox.conversation_ids(1, [14])[0]
    at = datetime(2025, 6, 3, tzinfo=UTC)
    sandbox.set_labels([cid], ["lead", "visita-agendada", "convertido-crm"], at=at)
    r = row(sandbox, cid)
    assert r["labels"] == ["lead", "visita-agendada", "convertido-crm"]
    assert (r["is_lead"], r["visit_scheduled"], r["crm_converted"]) == (True, True, True)
    assert r["conversation_updated_at"] == at
    sandbox.set_labels([cid], [])
    r = row(sandbox, cid)
    assert r["labels"] == [] and r["visit_scheduled"] is False and r["crm_converted"] is False
    with sandbox.connect() as conn:
        taggings = conn.execute("SELECT count(*) FROM taggings WHERE taggable_id = %s", (cid,)).fetchone()[0]
    assert taggings == 0


def test_custom_attributes_feed_the_view_and_bad_scores_read_as_null(sandbox):
    ids = sandbox.conversation_ids(2)[:2]
    with sandbox.connect() as conn:
        conn.execute(
            "UPDATE conversations SET cached_label_list = NULL, custom_attributes = %s WHERE id = %s",
            (
                '{"is_lead": "sim", "visit_scheduled": true, "ai_probability_label": "alta", '
                '"ai_probability_score": "0.91"}',
                ids[0],
            ),
        )
        conn.execute(
            "UPDATE conversations SET custom_attributes = %s WHERE id = %s", ('{"ai_probability_score": "n/a"}', ids[1])
        )
    good, bad = row(sandbox, ids[0]), row(sandbox, ids[1])
    assert (good["is_lead"], good["visit_scheduled"], good["crm_converted"]) == (True, True, False)
    assert good["ai_probability_label"] == "alta" and str(good["ai_probability_score"]) == "0.91"
    assert bad["ai_probability_score"] is None


def test_delete_removes_conversations_with_their_messages_and_labels(sandbox):
    ids = sandbox.conversation_ids(1, [15])[:3]
    assert sandbox.delete(ids) == 3
    assert not view_rows(sandbox, "conversation_id = ANY(%s)", (ids,))
    with sandbox.connect() as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM messages WHERE conversation_id = ANY(%s)) + "
            "(SELECT count(*) FROM taggings WHERE taggable_id = ANY(%s))",
            (ids, ids),
        ).fetchone()[0]
    assert left == 0


@pytest.mark.parametrize("bulk_mode", [False, True])
def test_bulk_seed_appends_set_based(sandbox, monkeypatch, bulk_mode):
    if bulk_mode:  # exercise the drop-and-rebuild-indexes path on a small n
        monkeypatch.setattr(chatwoot_db, "_BULK_THRESHOLD", 1)
    with sandbox.connect() as conn:
        indexes_before = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").fetchone()[0]
    before = len(view_rows(sandbox))
    assert sandbox.bulk_seed(301, anchor=ANCHOR) == 301
    rows = view_rows(sandbox)
    assert len(rows) == before + 301
    with sandbox.connect() as conn:
        indexes_after = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").fetchone()[0]
        per_inbox = dict(
            conn.execute(
                "SELECT inbox_id, count(*) FROM conversations WHERE id > %s GROUP BY 1", (rows[before - 1][0],)
            )
        )
        dupes = conn.execute(
            "SELECT count(*) - count(DISTINCT (account_id, display_id)) FROM conversations"
        ).fetchone()[0]
        next_display = conn.execute("SELECT max(display_id) + 1 FROM conversations WHERE account_id = 2").fetchone()[0]
    assert indexes_after == indexes_before
    assert per_inbox == {14: 101, 15: 100, 21: 100}
    assert dupes == 0
    # display_id sequences continue after the bulk rows, as Chatwoot's trigger expects.
    (new,) = sandbox.add(2, 21, 1)
    assert row(sandbox, new)["display_id"] == next_display


def test_ensure_sandbox_chatwoot_creates_and_seeds_once(pg_server):
    # The test server's home (as in conftest): the running server is found, not started again.
    home = Path(os.environ.get("VETORIAL_TEST_HOME") or Path(__file__).resolve().parents[1] / ".vetorial-test")
    url = ensure_sandbox_chatwoot(home, conversations_per_inbox=5)
    assert url == ensure_sandbox_chatwoot(home, conversations_per_inbox=5)
    sb = SandboxChatwoot(url)
    assert sb.is_seeded()
    assert len(view_rows(sb)) > 0
