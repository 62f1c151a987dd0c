"""The sandbox Chatwoot database: Chatwoot's own table shapes, synthetic Brazilian data.

Used by the demo and the tests wherever VETORIAL_CHATWOOT_URL is unset. Besides seeding,
it can change the source the ways the real one changes, so the ETL's edge cases can be
produced on purpose: new conversations, touched ones, messages that do not bump
updated_at (Chatwoot writes last_activity_at with update_columns), deletions, and rows
sharing one updated_at (ties at the watermark).

Timestamps given to these methods may be aware (converted to UTC) or naive (taken as UTC,
like Chatwoot's own columns).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources as pkg_resources
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from ..platform.embedded import CHATWOOT_SANDBOX_DB, ensure_server
from ..settings import DEFAULT_TIMEZONE

log = logging.getLogger("vetorial.sandbox.chatwoot")

VIEW_NAME = "vw_conversations_analytics_final"

# The demo tenants of tenants_demo.yaml, plus inbox 16: an inbox of account 1 that no
# tenant lists, so the tenant filter (account AND inbox) has something to leave out.
ACCOUNTS = ((1, "AllpFit"), (2, "Lacrei Saúde"))
INBOXES = (
    # id, account, name, channel_type, channel_id
    (14, 1, "AllpFit WhatsApp", "Channel::Whatsapp", 1),
    (15, 1, "AllpFit Site", "Channel::WebWidget", 1),
    (16, 1, "AllpFit Instagram", "Channel::Instagram", 1),
    (21, 2, "Lacrei WhatsApp", "Channel::Whatsapp", 2),
)
TENANT_INBOXES = (14, 15, 21)
UNLISTED_INBOXES = (16,)
USERS = (
    # id, account, name
    (1, 1, "Carla Mendes"),
    (2, 1, "Rafael Souza"),
    (3, 1, "Beatriz Lima"),
    (4, 1, "Diego Araújo"),
    (5, 2, "Helena Castro"),
    (6, 2, "Marcos Teixeira"),
)
LABELS = ("lead", "visita-agendada", "convertido-crm", "suporte", "financeiro", "matricula", "reclamacao")
_BASE_TIME = datetime(2024, 1, 15, 12, 0)
_TABLES = (
    "taggings",
    "tags",
    "labels",
    "messages",
    "conversations",
    "contact_inboxes",
    "contacts",
    "inboxes",
    "channel_web_widgets",
    "channel_whatsapp",
    "account_users",
    "users",
    "accounts",
)
# Tables a bulk seed writes (their secondary indexes are rebuilt after the load).
_BULK_TABLES = ("contacts", "contact_inboxes", "conversations", "messages", "taggings")
_BULK_THRESHOLD = 50_000
_SEED_LOCK = 0x43_57_53_44  # pg advisory lock key ("CWSD"): one creator/seeder at a time


def _sql_text(name: str) -> str:
    return pkg_resources.files("vetorial_assets.sandbox").joinpath(name).read_text(encoding="utf-8")


def _generate_steps() -> list[str]:
    """chatwoot_generate.sql split at its `-- step:` markers (psycopg runs one statement per
    execute when parameters are bound)."""
    parts = re.split(r"^-- step: \w+\s*$", _sql_text("chatwoot_generate.sql"), flags=re.M)
    return [p.strip().rstrip(";") for p in parts[1:] if p.strip()]


def conninfo_from_url(url: str) -> str:
    """libpq conninfo for a SQLAlchemy URL (any postgresql+driver:// form)."""
    parsed = make_url(url)
    params = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


def _utc_naive(ts: datetime | None) -> datetime | None:
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(UTC).replace(tzinfo=None)


class SandboxChatwoot:
    """A Chatwoot-shaped database at `url` (SQLAlchemy URL; psycopg 3 is used directly)."""

    def __init__(self, url: str):
        self.url = url
        self._conninfo = conninfo_from_url(url)

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self._conninfo, **kwargs)

    # ------------------------------------------------------------------ schema

    def create(self) -> None:
        """Tables, indexes, Chatwoot's display_id triggers and the analytics view (idempotent)."""
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
            conn.execute(_sql_text("chatwoot_schema.sql"))
            conn.execute(_sql_text("chatwoot_view.sql"))

    def is_seeded(self) -> bool:
        with self.connect() as conn:
            exists = conn.execute("SELECT to_regclass('public.accounts') IS NOT NULL").fetchone()[0]
            return bool(exists) and conn.execute("SELECT EXISTS (SELECT 1 FROM accounts)").fetchone()[0]

    # ------------------------------------------------------------------ seeding

    def seed(
        self,
        conversations_per_inbox: int = 200,
        seed: int = 7,
        anchor: datetime | None = None,
        days: int = 90,
        max_messages: int = 6,
    ) -> int:
        """Replace all data with the demo accounts, inboxes, agents and labels, plus
        `conversations_per_inbox` conversations in each tenant inbox (a quarter of that in
        the unlisted inbox 16) created over the `days` before `anchor`.

        Deterministic: the same arguments give the same rows, ids included. `anchor`
        defaults to today's midnight UTC (stable within a day). Returns the number of
        conversations created.
        """
        if anchor is None:
            anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        t1 = _utc_naive(anchor)
        t0 = t1 - timedelta(days=days)
        self.create()
        per_inbox = {
            14: conversations_per_inbox,
            15: conversations_per_inbox,
            21: conversations_per_inbox,
            16: conversations_per_inbox // 4,
        }
        total = 0
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
            self._reset(conn)
            self._insert_base(conn)
            # One inbox at a time, in a fixed order: the ids are then the same on every seed.
            for inbox_id, count in per_inbox.items():
                if count > 0:
                    total += len(self._generate(conn, count, [inbox_id], t0, t1, seed, max_messages))
            self._refresh_tag_counts(conn)
        self._vacuum(("conversations", "messages", "contacts", "contact_inboxes", "taggings"))
        log.info("sandbox Chatwoot seeded: %d conversations", total)
        return total

    def bulk_seed(
        self,
        n_conversations: int,
        seed: int = 11,
        anchor: datetime | None = None,
        days: int = 365,
        max_messages: int = 3,
    ) -> int:
        """Append `n_conversations` conversations over the tenant inboxes (round robin), set-based
        in the database: 1,000,000 take seconds, not Python loops. Creates the demo accounts
        and inboxes first if they are missing. Returns the number created."""
        t1 = _utc_naive(anchor or datetime.now(UTC).replace(microsecond=0))
        t0 = t1 - timedelta(days=days)
        self.create()
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
            if not conn.execute("SELECT EXISTS (SELECT 1 FROM accounts)").fetchone()[0]:
                self._insert_base(conn)
            conn.execute("SET LOCAL synchronous_commit = off")
            ids = self._generate(
                conn,
                n_conversations,
                list(TENANT_INBOXES),
                t0,
                t1,
                seed,
                max_messages,
                activity_messages=False,
                bulk=n_conversations >= _BULK_THRESHOLD,
            )
            self._refresh_tag_counts(conn)
        # VACUUM: sets hint bits and the visibility map once, so readers measure reading,
        # and the per-row message count is an index-only scan.
        self._vacuum(("conversations", "messages", "contacts", "contact_inboxes", "taggings"))
        return len(ids)

    def _reset(self, conn: psycopg.Connection) -> None:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in _TABLES)
            )
        )
        # Chatwoot's per-account display_id sequences outlive TRUNCATE: drop them so that
        # re-created accounts start at display_id 1 again.
        for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE %s", ("conv\\_dpid\\_seq\\_%",)
        ).fetchall():
            conn.execute(sql.SQL("DROP SEQUENCE IF EXISTS {}").format(sql.Identifier(name)))

    def _insert_base(self, conn: psycopg.Connection) -> None:
        t = _BASE_TIME
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (id, name, created_at, updated_at, locale, domain) "
                "VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT (id) DO NOTHING",
                [(i, name, t, t, f"{name.split()[0].lower()}.com.br") for i, name in ACCOUNTS],
            )
            cur.executemany(
                "INSERT INTO users (id, uid, name, display_name, email, created_at, updated_at, type) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'User') ON CONFLICT (id) DO NOTHING",
                [
                    (i, f"agent{i}@example.com.br", name, name.split()[0], f"agent{i}@example.com.br", t, t)
                    for i, _, name in USERS
                ],
            )
            cur.executemany(
                "INSERT INTO account_users (account_id, user_id, role, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account_id, user_id) DO NOTHING",
                [(acc, i, 1 if i in (1, 5) else 0, t, t) for i, acc, _ in USERS],
            )
            cur.executemany(
                "INSERT INTO channel_whatsapp (id, account_id, phone_number, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(1, 1, "+5511930000014", t, t), (2, 2, "+5521930000021", t, t)],
            )
            cur.execute(
                "INSERT INTO channel_web_widgets (id, website_url, account_id, created_at, updated_at, "
                "website_token) VALUES (1, 'https://allpfit.com.br', 1, %s, %s, 'sandboxwidgettoken') "
                "ON CONFLICT (id) DO NOTHING",
                (t, t),
            )
            cur.executemany(
                "INSERT INTO inboxes (id, channel_id, account_id, name, created_at, updated_at, channel_type, "
                "timezone) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(i, ch, acc, name, t, t, kind, DEFAULT_TIMEZONE) for i, acc, name, kind, ch in INBOXES],
            )
            cur.executemany(
                "INSERT INTO labels (title, account_id, show_on_sidebar, created_at, updated_at) "
                "VALUES (%s, %s, true, %s, %s) ON CONFLICT (title, account_id) DO NOTHING",
                [(label, acc, t, t) for acc, _ in ACCOUNTS for label in LABELS],
            )
            cur.executemany(
                "INSERT INTO tags (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", [(label,) for label in LABELS]
            )
            # Explicit ids above: move the sequences past them, as Rails fixtures would.
            for table in ("accounts", "users", "inboxes", "channel_whatsapp", "channel_web_widgets"):
                cur.execute(
                    sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))").format(
                        sql.Identifier(table)
                    ),
                    (table,),
                )

    def _generate(
        self,
        conn: psycopg.Connection,
        n: int,
        inbox_ids: Sequence[int],
        t0: datetime,
        t1: datetime,
        seed: int,
        max_messages: int,
        activity_messages: bool = True,
        bulk: bool = False,
    ) -> list[int]:
        """Run chatwoot_generate.sql for `n` conversations; returns their ids (contiguous).

        `bulk`: the classic bulk-load recipe, inside the caller's transaction: drop the
        secondary indexes of the tables written and build them again at the end (a sorted
        build is several times cheaper than 1,000,000 index inserts), and number display_id
        here instead of through Chatwoot's per-row trigger.
        """
        if n <= 0:
            return []
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))  # id ranges are reserved below
        slots = conn.execute(
            "SELECT id, account_id, channel_type FROM inboxes WHERE id = ANY (%s) ORDER BY id", (list(inbox_ids),)
        ).fetchall()
        if len(slots) != len(set(inbox_ids)):
            missing = sorted(set(inbox_ids) - {row[0] for row in slots})
            raise ValueError(f"unknown inbox id(s) {missing}")
        # Conversations g and g + len(slots) share a contact: contact k of conversation g.
        n_contacts = max(
            ((g - 1) // len(slots) // 2) * len(slots) + (g - 1) % len(slots) + 1
            for g in range(max(1, n - len(slots) + 1), n + 1)
        )
        first = {}
        for seq, count in (
            ("conversations_id_seq", n),
            ("contacts_id_seq", n_contacts),
            ("contact_inboxes_id_seq", n_contacts),
        ):
            start = conn.execute("SELECT nextval(%s)", (seq,)).fetchone()[0]
            conn.execute("SELECT setval(%s, %s)", (seq, start + count - 1))
            first[seq] = start
        accounts = [r[1] for r in slots]
        display_base = {a: self._display_id_base(conn, a) for a in set(accounts)}
        params = {
            "n": int(n),
            "n_contacts": n_contacts,
            "seed": int(seed),
            "max_messages": int(max_messages),
            "activity_messages": bool(activity_messages),
            "slot_inbox": [r[0] for r in slots],
            "slot_account": accounts,
            "slot_channel": [r[2] for r in slots],
            "slot_display_base": [display_base[a] for a in accounts],
            "slot_rank": [accounts[:i].count(a) for i, a in enumerate(accounts)],
            "slot_account_slots": [accounts.count(a) for a in accounts],
            "t0": t0,
            "span_seconds": (t1 - t0).total_seconds(),
            "first_conversation_id": first["conversations_id_seq"],
            "first_contact_id": first["contacts_id_seq"],
            "first_contact_inbox_id": first["contact_inboxes_id_seq"],
        }
        indexes: list[str] = []
        if bulk:
            indexes = self._drop_secondary_indexes(conn, _BULK_TABLES)
            conn.execute("ALTER TABLE conversations DISABLE TRIGGER conversations_before_insert_row_tr")
        for step in _generate_steps():
            started = time.perf_counter()
            cur = conn.execute(step, params)
            log.debug("generate: %s rows in %.2fs: %s", cur.rowcount, time.perf_counter() - started, step[:40])
        if bulk:
            conn.execute("ALTER TABLE conversations ENABLE TRIGGER conversations_before_insert_row_tr")
            for account in set(accounts):
                per_slot = [n // len(slots) + (1 if i < n % len(slots) else 0) for i in range(len(slots))]
                used = sum(c for c, a in zip(per_slot, accounts) if a == account)
                conn.execute("SELECT setval(%s, %s)", (f"conv_dpid_seq_{account}", display_base[account] + used))
            for ddl in indexes:
                started = time.perf_counter()
                conn.execute(ddl)
                log.debug("generate: index rebuilt in %.2fs: %s", time.perf_counter() - started, ddl[:60])
        return list(range(first["conversations_id_seq"], first["conversations_id_seq"] + n))

    @staticmethod
    def _display_id_base(conn: psycopg.Connection, account_id: int) -> int:
        """The last display_id handed out for `account_id` (0 when none)."""
        seq = sql.Identifier(f"conv_dpid_seq_{int(account_id)}")
        last, called = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(seq)).fetchone()
        return last if called else last - 1

    @staticmethod
    def _drop_secondary_indexes(conn: psycopg.Connection, tables: Sequence[str]) -> list[str]:
        """Drop every index of `tables` except primary keys; returns the DDL that rebuilds them."""
        rows = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY (%s::regclass[]) AND NOT i.indisprimary ORDER BY 1",
            (list(tables),),
        ).fetchall()
        for name, _ in rows:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        return [ddl for _, ddl in rows]

    def _refresh_tag_counts(self, conn: psycopg.Connection) -> None:
        conn.execute("UPDATE tags t SET taggings_count = (SELECT count(*) FROM taggings g WHERE g.tag_id = t.id)")

    def _vacuum(self, tables: Sequence[str]) -> None:
        with self.connect(autocommit=True) as conn:
            for table in tables:
                conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))

    # ------------------------------------------------------------------ changing the source

    def add(self, account_id: int, inbox_id: int, k: int, at: datetime | None = None, seed: int = 101) -> list[int]:
        """Create `k` conversations in inbox `inbox_id` (which must belong to `account_id`),
        all created and updated at `at` (default: the database's now, UTC). Returns their ids."""
        ts = _utc_naive(at)
        with self.connect() as conn:
            owner = conn.execute("SELECT account_id FROM inboxes WHERE id = %s", (inbox_id,)).fetchone()
            if owner is None or owner[0] != account_id:
                raise ValueError(f"inbox {inbox_id} does not belong to Chatwoot account {account_id}")
            if ts is None:
                ts = conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0]
            ids = self._generate(conn, k, [inbox_id], ts, ts, seed, 3)
            self._refresh_tag_counts(conn)
        return ids

    def touch(self, ids: Sequence[int], at: datetime | None = None) -> int:
        """What an agent action does in Chatwoot: bump updated_at (and last_activity_at) to
        `at` (default: now). Returns the number of conversations touched."""
        with self.connect() as conn:
            cur = conn.execute(
                "UPDATE conversations SET updated_at = t.ts, last_activity_at = greatest(last_activity_at, t.ts) "
                "FROM (SELECT coalesce(%s::timestamp, now() AT TIME ZONE 'UTC') AS ts) t "
                "WHERE id = ANY (%s::int[])",
                (_utc_naive(at), list(ids)),
            )
            return cur.rowcount

    def add_messages(self, ids: Sequence[int], at: datetime | None = None, bump_updated_at: bool = False) -> int:
        """One incoming message per conversation. Like Chatwoot, only last_activity_at moves
        unless `bump_updated_at`: the view's message_count changes while
        conversation_updated_at stays behind (the "lagging updated_at" case)."""
        with self.connect() as conn:
            cur = conn.execute(
                "WITH t AS (SELECT coalesce(%s::timestamp, now() AT TIME ZONE 'UTC') AS ts) "
                "INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, "
                "created_at, updated_at, sender_type, sender_id) "
                "SELECT 'Oi, ainda estou aguardando retorno', c.account_id, c.inbox_id, c.id, 0, t.ts, t.ts, "
                "'Contact', c.contact_id FROM conversations c CROSS JOIN t WHERE c.id = ANY (%s::int[])",
                (_utc_naive(at), list(ids)),
            )
            added = cur.rowcount
            # update_columns in Chatwoot: no updated_at unless asked.
            conn.execute(
                "UPDATE conversations c SET last_activity_at = m.last_at, "
                "updated_at = CASE WHEN %s THEN greatest(c.updated_at, m.last_at) ELSE c.updated_at END "
                "FROM (SELECT conversation_id, max(created_at) AS last_at FROM messages "
                "      WHERE conversation_id = ANY (%s::int[]) GROUP BY conversation_id) m "
                "WHERE c.id = m.conversation_id",
                (bump_updated_at, list(ids)),
            )
            return added

    def set_updated_at(self, ids: Sequence[int], ts: datetime) -> int:
        """Put `ids` at exactly `ts` (ties at the watermark; or a late commit: a row that
        appears with an updated_at older than what the ETL already read)."""
        with self.connect() as conn:
            return conn.execute(
                "UPDATE conversations SET updated_at = %s WHERE id = ANY (%s::int[])", (_utc_naive(ts), list(ids))
            ).rowcount

    def set_labels(self, ids: Sequence[int], labels: Sequence[str], at: datetime | None = None) -> int:
        """Replace the labels of `ids` the way acts-as-taggable-on does: taggings, the cached
        list and updated_at change in one save."""
        labels = list(dict.fromkeys(labels))
        with self.connect() as conn:
            conn.execute("INSERT INTO tags (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING", (labels,))
            conn.execute(
                "DELETE FROM taggings WHERE taggable_type = 'Conversation' AND context = 'labels' "
                "AND taggable_id = ANY (%s::int[])",
                (list(ids),),
            )
            conn.execute(
                "INSERT INTO taggings (tag_id, taggable_type, taggable_id, context, created_at) "
                "SELECT t.id, 'Conversation', c.id, 'labels', now() AT TIME ZONE 'UTC' "
                "FROM conversations c CROSS JOIN tags t WHERE c.id = ANY (%s::int[]) AND t.name = ANY (%s)",
                (list(ids), labels),
            )
            count = conn.execute(
                "UPDATE conversations SET cached_label_list = %s, "
                "updated_at = coalesce(%s::timestamp, now() AT TIME ZONE 'UTC') WHERE id = ANY (%s::int[])",
                (", ".join(labels) or None, _utc_naive(at), list(ids)),
            ).rowcount
            self._refresh_tag_counts(conn)
            return count

    def delete(self, ids: Sequence[int]) -> int:
        """Delete conversations as Chatwoot does (hard delete, messages and taggings with them)."""
        with self.connect() as conn:
            conn.execute("DELETE FROM messages WHERE conversation_id = ANY (%s::int[])", (list(ids),))
            conn.execute(
                "DELETE FROM taggings WHERE taggable_type = 'Conversation' AND taggable_id = ANY (%s::int[])",
                (list(ids),),
            )
            count = conn.execute("DELETE FROM conversations WHERE id = ANY (%s::int[])", (list(ids),)).rowcount
            self._refresh_tag_counts(conn)
            return count

    # ------------------------------------------------------------------ reading helpers

    def conversation_ids(self, account_id: int, inbox_ids: Sequence[int] | None = None) -> list[int]:
        """Ids of the conversations in one account (optionally only these inboxes), ascending."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id FROM conversations WHERE account_id = %s "
                "AND (%s::int[] IS NULL OR inbox_id = ANY (%s::int[])) ORDER BY id",
                (account_id, list(inbox_ids) if inbox_ids else None, list(inbox_ids) if inbox_ids else None),
            )
            return [r[0] for r in rows]

    def now(self) -> datetime:
        """The database clock (aware, UTC): what touch/add use when no time is given."""
        with self.connect() as conn:
            return conn.execute("SELECT now()").fetchone()[0].astimezone(UTC)


def ensure_sandbox_chatwoot(home: Path, conversations_per_inbox: int = 200, seed: int = 7) -> str:
    """Start (or find) the embedded server under `home`, create and seed the sandbox Chatwoot
    database the first time, and return its SQLAlchemy URL. Safe to call from many processes."""
    server = ensure_server(Path(home), databases=(CHATWOOT_SANDBOX_DB,))
    url = server.url(CHATWOOT_SANDBOX_DB)
    sandbox = SandboxChatwoot(url)
    sandbox.create()
    with sandbox.connect(autocommit=True) as conn:
        # Held while checking and seeding: a second process waits, then sees the data.
        conn.execute("SELECT pg_advisory_lock(%s)", (_SEED_LOCK + 1,))
        try:
            if not sandbox.is_seeded():
                sandbox.seed(conversations_per_inbox=conversations_per_inbox, seed=seed)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SEED_LOCK + 1,))
    return url
