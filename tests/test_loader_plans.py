"""Issue 11 defect 2: the replace scope's DELETE (and the MERGE) get plans whose cost does not
depend on statistics being current. Right after a target's first load the planner has no
statistics for the scope's columns, estimates the scope at one row and, with the plain
anti-join, picked a nested loop scanning the whole stage once per target row (quadratic).

The plans are the ones the loader's own statements get, captured with auto_explain (sent to
the client as NOTICEs), on a target just loaded with autovacuum off: no timing involved."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from resources import load as loader
from resources.load import merge as merge_sql

ROWS = 36_000  # the size of the Meta re-pull that took 38.7 s


def frame(bump: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hash_id": [f"h{i:06d}" for i in range(ROWS)],
            "account_id": "act_1",
            "data": [date(2025, 1, 1) + timedelta(days=i % 30) for i in range(ROWS)],
            "v": [i + bump for i in range(ROWS)],
        }
    )


@pytest.fixture
def conn(fresh_db):
    with fresh_db.connect() as conn:
        conn.execute(
            "CREATE TABLE t (hash_id text PRIMARY KEY, account_id text NOT NULL, data date NOT NULL,"
            " v bigint) WITH (autovacuum_enabled = false)"
        )
        conn.execute("CREATE INDEX ON t (account_id, data)")
        conn.commit()
        plans: list[str] = []
        conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        conn.plans = plans
        yield conn


def _explained(conn, fn):
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_level = 'notice'")
    conn.execute("SET client_min_messages = 'notice'")
    del conn.plans[:]
    result = fn()
    conn.execute("SET auto_explain.log_min_duration = -1")
    return result, [p for p in conn.plans if "Query Text" in p]


def _plan_of(plans: list[str], statement: str) -> str:
    found = [p for p in plans if statement in p.split("Query Text:", 1)[1].split("\n", 1)[0]]
    assert len(found) == 1, plans
    return found[0].split("Query Text:", 1)[1].split("\n", 1)[1]


def _nodes(plan: str) -> list[tuple[int, str]]:
    """(depth, node text) of each plan node (lines with '->', plus the root)."""
    nodes = []
    for line in plan.splitlines():
        if "->" in line:
            nodes.append((line.index("->"), line.split("->", 1)[1].strip()))
        elif line and not line.startswith(" ") and "(cost=" in line:
            nodes.append((-1, line.strip()))
    return nodes


def _rescanned_inner_sides(plan: str) -> list[str]:
    """Nested loops whose inner side is not an index probe: a scan of a whole relation per
    outer row (quadratic)."""
    nodes = _nodes(plan)
    bad = []
    for i, (depth, text) in enumerate(nodes):
        if not text.startswith("Nested Loop"):
            continue
        children = [n for n in nodes[i + 1 :] if n[0] > depth]
        child_depth = min((d for d, _ in children), default=None)
        direct = [t for d, t in children if d == child_depth]
        if len(direct) == 2 and not direct[1].startswith(("Index Scan", "Index Only Scan", "Bitmap Heap Scan")):
            bad.append(f"{text} -> {direct[1]}")
    return bad


@pytest.mark.parametrize("merge_form", ["merge", "insert_on_conflict"])
def test_replace_scope_delete_and_merge_plans_do_not_depend_on_statistics(conn, merge_form, monkeypatch):
    if merge_form == "insert_on_conflict":
        monkeypatch.setattr(merge_sql, "MERGE_RETURNING_SINCE", 10**9)
    target = loader.describe_table(conn, "public", "t")
    scope = {"account_id": "act_1", "data": (date(2025, 1, 1), date(2025, 1, 30))}
    assert loader.load(conn, target, [frame()], replace_scope=scope).inserted == ROWS  # direct COPY
    conn.commit()
    assert conn.execute(
        "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 't'"
    ).fetchone() == (None, None)

    smaller = frame(bump=1).iloc[: ROWS - 10]  # 10 rows vanish: the DELETE has work to do
    result, plans = _explained(conn, lambda: loader.load(conn, target, [smaller], replace_scope=scope))
    assert (result.updated, result.deleted) == (ROWS - 10, 10)

    delete = _plan_of(plans, "DELETE FROM")
    assert "Anti Join" in delete and "Nested Loop" not in delete, delete
    merge = _plan_of(plans, "WITH changed AS")
    # A nested loop is fine only when its inner side probes an index.
    assert _rescanned_inner_sides(merge) == [], merge
    # The setting is the session's again after the DELETE.
    assert conn.execute("SHOW enable_nestloop").fetchone()[0] == "on"


def test_the_old_statement_is_quadratic_on_the_same_target(conn):
    # The regression guard above would have caught it: the plain anti-join, same state.
    target = loader.describe_table(conn, "public", "t")
    loader.load(conn, target, [frame()])
    conn.commit()
    conn.execute("CREATE TEMP TABLE s AS SELECT * FROM t")
    conn.execute("ANALYZE s (hash_id)")
    plan = "\n".join(
        r[0]
        for r in conn.execute(
            "EXPLAIN DELETE FROM t WHERE account_id = 'act_1' AND data BETWEEN '2025-01-01' AND '2025-01-30'"
            " AND NOT EXISTS (SELECT 1 FROM s WHERE s.hash_id = t.hash_id)"
        )
    )
    rescanned = _rescanned_inner_sides(plan)
    assert len(rescanned) == 1 and "Seq Scan on s " in rescanned[0], plan
