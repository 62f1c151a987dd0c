"""Writes through the source connection are refused by the Chatwoot database itself (issue 11, defect 6).

The three attempts the issue found writing: `SET TRANSACTION READ WRITE`, a raw pooled
connection in autocommit, and a COMMIT inside the read-only transaction followed by an INSERT.
Each goes through SourceDatabase's engine or the connections it hands out, against the sandbox
source as its owner (a superuser: no privilege stops it), and the table stays empty. The last
test plays the read-only role docs/reliability.md describes, which also stops what a session
setting cannot (a deliberate `SET default_transaction_read_only = off`).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from resources.source_db import SourceDatabase
from vetorial_assets.sandbox.chatwoot_db import VIEW_NAME, SandboxChatwoot

REFUSED = (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.ActiveSqlTransaction)


@pytest.fixture
def sandbox(fresh_db) -> SandboxChatwoot:
    sb = SandboxChatwoot(fresh_db.url)
    sb.create()
    sb.seed(conversations_per_inbox=5)
    with sb.connect() as conn:
        conn.execute("CREATE TABLE intrusion (note text)")
        conn.commit()
    return sb


@pytest.fixture
def source(sandbox):
    made = []

    def factory(url=None) -> SourceDatabase:
        src = SourceDatabase(url=url or sandbox.url)
        made.append(src)
        return src

    yield factory
    for src in made:
        src.dispose()


def written(sandbox) -> list[tuple]:
    with sandbox.connect() as conn:
        return conn.execute("SELECT note FROM intrusion").fetchall()


def refused(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "orig", None) or exc, REFUSED)


def test_set_transaction_read_write_is_refused(sandbox, source):
    src = source()
    with src.read_only_transaction() as conn:
        with pytest.raises(psycopg.errors.ActiveSqlTransaction, match="must be set before any query"):
            conn.execute("SET TRANSACTION READ WRITE")
    # A transaction begun through the engine takes its snapshot first: the switch comes too late.
    with src.engine.connect() as conn:
        with pytest.raises(Exception) as err:
            conn.execute(text("SET TRANSACTION READ WRITE"))
            conn.execute(text("INSERT INTO intrusion VALUES ('set transaction read write')"))
            conn.commit()
        assert refused(err.value)
    assert written(sandbox) == []


def test_a_raw_connection_in_autocommit_is_refused(sandbox, source):
    src = source()
    fairy = src.engine.raw_connection()
    try:
        raw: psycopg.Connection = fairy.driver_connection
        raw.autocommit = True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction"):
            raw.execute("INSERT INTO intrusion VALUES ('autocommit')")
        assert raw.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        raw.autocommit = False
    finally:
        fairy.close()
    assert written(sandbox) == []


@pytest.mark.parametrize(
    "statements",
    [
        ["COMMIT", "INSERT INTO intrusion VALUES ('after commit')", "COMMIT"],
        ["COMMIT; INSERT INTO intrusion VALUES ('after commit, one string'); COMMIT"],
    ],
)
def test_a_commit_inside_the_read_only_transaction_then_an_insert_is_refused(sandbox, source, statements):
    src = source()
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="cannot execute INSERT in a read-only"):
        with src.read_only_transaction() as conn:
            for statement in statements:
                conn.execute(statement)
    with src.engine.connect() as conn:
        with pytest.raises(Exception) as err:
            for statement in statements:
                conn.exec_driver_sql(statement)
        assert refused(err.value)
    assert written(sandbox) == []


def test_reading_still_works_in_every_isolation(sandbox, source):
    src = source()
    assert src.count(1) > 0
    assert src.max_watermark(1) is not None
    assert sum(len(chunk) for chunk in src.stream(["conversation_id"], 1)) == src.count(1)


@pytest.fixture
def reader_role(sandbox, pg_server):
    """The read-only role of docs/reliability.md: LOGIN, SELECT on the view only, read-only default."""
    role = f"chatwoot_reader_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier(role)
    with sandbox.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(VIEW_NAME), ident))
    yield role
    with sandbox.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    with psycopg.connect(pg_server.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_the_read_only_role_refuses_even_a_deliberate_escape(sandbox, source, reader_role):
    src = source(sandbox.url.replace("postgres@", f"{reader_role}@", 1))
    assert src.count(1) > 0  # reads the view
    access = src.write_access()
    assert (access.role, access.superuser, access.writable, access.can_write) == (reader_role, False, {}, False)
    fairy = src.engine.raw_connection()
    try:
        raw: psycopg.Connection = fairy.driver_connection
        raw.autocommit = True
        raw.execute("SET default_transaction_read_only = off")  # what the session setting cannot stop
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("INSERT INTO intrusion VALUES ('escaped')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("UPDATE conversations SET status = status")
        raw.execute("RESET default_transaction_read_only")
        raw.autocommit = False
    finally:
        fairy.close()
    assert written(sandbox) == []


def test_write_access_names_what_a_writing_role_could_write(sandbox, source):
    access = source().write_access()
    assert access.superuser and access.can_write
    # The view and every table it reads, with the privileges the owner holds on each.
    assert f"{VIEW_NAME}" in access.writable and "conversations" in access.writable
    assert access.writable["conversations"] == ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]
