"""The conversation side of the warehouse layers against a real PostgreSQL: staging
(LGPD), model (dims, fact) and marts, built incrementally through the change ledger.
Inputs are hand-made raw rows with hand-computed expectations."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from resources.warehouse import Warehouse
from vetorial_assets.mart import conversations as marts
from vetorial_assets.model import conversations as model
from vetorial_assets.settings import ConfigError, lgpd_salt, load_settings
from vetorial_assets.staging import conversations as staging
from vetorial_assets.warehouse.tables import conversas_analytics_raw

SALT = b"layers-test-salt"
D1, D2 = date(2025, 3, 10), date(2025, 3, 11)
APRIL = date(2025, 4, 2)


def at(day: date, hour: int = 12, seconds: float = 0) -> datetime:
    # 12:00 UTC is 09:00 in Sao Paulo: the same calendar day.
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(seconds=seconds)


def raw_row(
    cid: int,
    day: date,
    *,
    tenant="allpfit",
    inbox=14,
    reply: float | None = None,
    status="open",
    phone=None,
    email=None,
    name=None,
    is_lead=False,
    visit=False,
    crm=False,
    score=None,
    label=None,
    deleted=False,
    inbox_name="WhatsApp Vendas",
) -> dict:
    created = at(day)
    return {
        "conversation_id": cid,
        "tenant_id": tenant,
        "account_id": 1,
        "inbox_id": inbox,
        "inbox_name": inbox_name,
        "channel_type": "Channel::Whatsapp",
        "contact_id": cid,
        "contact_name": name,
        "contact_phone": phone,
        "contact_email": email,
        "status": status,
        "assignee_id": None,
        "labels": [],
        "conversation_created_at": created,
        "conversation_updated_at": created + timedelta(hours=1),
        "first_response_at": None if reply is None else created + timedelta(seconds=reply),
        "message_count": 3,
        "is_lead": is_lead,
        "visit_scheduled": visit,
        "crm_converted": crm,
        "ai_probability_label": label,
        "ai_probability_score": score,
        "conversation_date": day,
        "deleted_at": at(day, 20) if deleted else None,
    }


# Day D1, inbox 14: five live replied conversations (10, 20, 30, 40, 100 s), one live
# unreplied, one deleted (1000 s: must not count). Two of the live ones are one person
# (with and without the ninth digit), one has only an e-mail, the rest anonymous.
ROWS = [
    raw_row(
        1,
        D1,
        reply=10,
        status="resolved",
        phone="+55 11 98765-4321",
        name="Ana Souza",
        is_lead=True,
        score=Decimal("80"),
        label="alta",
    ),
    raw_row(
        2,
        D1,
        reply=20,
        phone="551187654321@s.whatsapp.net",
        name="Ana S.",
        is_lead=True,
        visit=True,
        score=Decimal("0.4"),
        label="media",
    ),
    raw_row(
        3,
        D1,
        reply=30,
        status="resolved",
        email="Bruno@Example.com",
        name="Bruno Lima",
        score=Decimal("0.2"),
        label="baixa",
    ),
    raw_row(4, D1, reply=40),
    raw_row(
        5,
        D1,
        reply=100,
        status="pending",
        phone="+55 21 99999-0000",
        name="Carla Dias",
        is_lead=True,
        visit=True,
        crm=True,
    ),
    raw_row(6, D1),
    raw_row(7, D1, reply=1000, status="resolved", phone="+55 31 98888-7777", name="Davi Melo", deleted=True),
    raw_row(8, D1, inbox=15, reply=60, inbox_name=None),
    raw_row(9, D2, reply=5, status="resolved", phone="+55 11 98765-4321"),
    raw_row(10, APRIL, reply=50, phone="+55 21 99999-0000"),
    raw_row(11, D1, tenant="lacrei", inbox=21, reply=15, phone="+55 11 91111-2222", name="Eva Reis"),
]


# Meta's side of the funnel, as model/fact_ad_insights_daily holds it: allpfit spent 120.00
# for 8 ad leads on D1 (two ads) and 50.00 for none on D2.
AD_FACT = """
INSERT INTO model.fact_ad_insights_daily (hash_id, date, tenant_id, account_id, campaign_id, adset_id, ad_id,
    platform, position, spend, impressions, reach, clicks, leads_form, leads_site, leads_messaging, leads_total,
    ig_followers)
VALUES ('h1', %(d1)s, 'allpfit', 'act_1', 'c1', 's1', 'a1', 'facebook', 'feed', 70.00, 1000, 800, 30, 5, 0, 0, 5, 0),
       ('h2', %(d1)s, 'allpfit', 'act_1', 'c1', 's1', 'a2', 'instagram', 'story', 50.00, 900, 700, 20, 0, 1, 2, 3, 0),
       ('h3', %(d2)s, 'allpfit', 'act_1', 'c1', 's1', 'a1', 'facebook', 'feed', 50.00, 500, 400, 10, 0, 0, 0, 0, 0)
"""


def build_all(wh: Warehouse) -> dict:
    runs = {f"staging/{t}": staging.build_tenant(wh, t, SALT) for t in ("allpfit", "lacrei")}
    runs["model"] = model.build(wh)
    runs["service"] = marts.build_service_daily(wh)
    runs["growth"] = marts.build_growth_monthly(wh)
    runs["funnel"] = marts.build_lead_funnel(wh)
    return runs


def q(wh: Warehouse, statement: str, params=None) -> list[tuple]:
    with wh.transaction() as conn:
        return conn.execute(statement, params).fetchall()


@pytest.fixture
def built(wh) -> Warehouse:
    wh.load(conversas_analytics_raw, [ROWS])
    with wh.transaction() as conn:
        conn.execute(AD_FACT, {"d1": D1, "d2": D2})
    runs = build_all(wh)
    assert all(r.full for r in runs.values())
    return wh


def test_hand_computed_service_figures(built):
    row = q(
        built,
        "SELECT conversations, unique_contacts, replied_conversations, first_reply_median_seconds,"
        " first_reply_p90_seconds, resolved_conversations, resolved_share, leads, ai_scored,"
        " ai_score_median, ai_label_counts, deleted_conversations"
        " FROM mart.conversation_service_daily WHERE tenant_id = 'allpfit' AND day = %s AND inbox_id = 14",
        (D1,),
    )[0]
    # Live: 1-6. Replies 10, 20, 30, 40, 100: median 30; p90 at rank 0.9*4 = 3.6 between 40
    # and 100: 40 + 0.6 * 60 = 76. Contacts: Ana (2 forms of one number), Bruno's e-mail,
    # Carla; anonymous ones are nobody. Resolved 2 of 6. Scores 0.8 (80 %), 0.4, 0.2.
    assert row == (
        6,
        3,
        5,
        30.0,
        76.0,
        2,
        Decimal("0.3333"),
        3,
        3,
        Decimal("0.4"),
        {"alta": 1, "media": 1, "baixa": 1, "(sem rótulo)": 3},
        1,
    )
    # An inbox no conversation named: an inferred member, its conversations kept.
    assert q(built, "SELECT inbox_name, is_inferred FROM model.dim_inbox WHERE inbox_id = 15") == [
        ("(desconhecido)", True)
    ]
    assert q(built, "SELECT count(*) FROM model.fact_conversations WHERE inbox_id = 15") == [(1,)]


FUNNEL = (
    "SELECT day, spend, ad_leads, conversations_started, qualified_leads, visits_scheduled, crm_conversions,"
    " cost_per_ad_lead, cost_per_conversation, cost_per_qualified_lead, cost_per_visit, cost_per_conversion,"
    " conversation_rate, qualification_rate, visit_rate, conversion_rate"
    " FROM mart.lead_funnel_daily WHERE tenant_id = 'allpfit' ORDER BY day"
)


def test_hand_computed_lead_funnel(built):
    d1, d2, april = q(built, FUNNEL)
    # D1: 120.00 spent, 8 ad leads, 7 live conversations (1-6, 8), 3 qualified (1, 2, 5),
    # 2 visits (2, 5), 1 CRM conversion (5). Costs: 120/8, 120/7, 120/3, 120/2, 120/1.
    # Rates: 7/8, 3/7, 2/3, 1/2.
    assert d1 == (
        D1,
        Decimal("120.00"),
        8,
        7,
        3,
        2,
        1,
        Decimal("15.00"),
        Decimal("17.14"),
        Decimal("40.00"),
        Decimal("60.00"),
        Decimal("120.00"),
        Decimal("0.8750"),
        Decimal("0.4286"),
        Decimal("0.6667"),
        Decimal("0.5000"),
    )
    # D2: no ad lead, nobody qualified: every ratio over them is NULL, never 0 or an error.
    assert d2 == (
        D2,
        Decimal("50.00"),
        0,
        1,
        0,
        0,
        0,
        None,
        Decimal("50.00"),
        None,
        None,
        None,
        None,
        Decimal("0.0000"),
        None,
        None,
    )
    # A day with conversations and no spend still has its row.
    assert april[:4] == (APRIL, 0, 0, 1) and april[8] == Decimal("0.00")


def test_ninth_digit_gives_one_contact_key_and_one_dim_contact(built):
    keys = q(
        built,
        "SELECT conversation_id, contact_key FROM staging.conversations WHERE conversation_id IN (1, 2, 9) ORDER BY 1",
    )
    assert len({k for _, k in keys}) == 1 and len(keys[0][1]) == 64
    assert q(
        built, "SELECT first_seen_date, last_seen_date FROM model.dim_contact WHERE contact_key = %s", (keys[0][1],)
    ) == [(D1, D2)]
    # Anonymous visitors have no key and no dim row; every keyed fact row has its dim row.
    assert q(built, "SELECT count(*) FROM staging.conversations WHERE contact_key IS NULL") == [(3,)]
    assert q(
        built,
        "SELECT count(*) FROM model.fact_conversations f WHERE contact_key IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM model.dim_contact d WHERE d.tenant_id = f.tenant_id"
        " AND d.contact_key = f.contact_key)",
    ) == [(0,)]


def test_monthly_growth_is_null_without_a_month_before(built):
    assert q(
        built,
        "SELECT month, conversations, prev_month_conversations, growth_pct"
        " FROM mart.conversation_growth_monthly WHERE tenant_id = 'allpfit' ORDER BY month",
    ) == [
        (date(2025, 3, 1), 8, 0, None),  # 1-6, 8 on D1 and 9 on D2; 7 is deleted
        (date(2025, 4, 1), 1, 8, Decimal("-87.50")),
    ]


def test_counts_reconcile_raw_live_staging_fact_mart(built):
    for tenant in ("allpfit", "lacrei"):
        raw = q(
            built, "SELECT count(*) FROM raw.conversas_analytics WHERE tenant_id = %s AND deleted_at IS NULL", (tenant,)
        )
        assert raw == q(
            built, "SELECT count(*) FROM staging.conversations WHERE tenant_id = %s AND NOT is_deleted", (tenant,)
        )
        assert raw == q(
            built, "SELECT count(*) FROM model.fact_conversations WHERE tenant_id = %s AND NOT is_deleted", (tenant,)
        )
        assert raw == q(
            built, "SELECT sum(conversations) FROM mart.conversation_service_daily WHERE tenant_id = %s", (tenant,)
        )
        assert raw == q(
            built, "SELECT sum(conversations) FROM mart.conversation_growth_monthly WHERE tenant_id = %s", (tenant,)
        )
        assert raw == q(
            built, "SELECT sum(conversations_started) FROM mart.lead_funnel_daily WHERE tenant_id = %s", (tenant,)
        )
    # and spend and ad leads: fact = funnel.
    assert q(built, "SELECT sum(spend), sum(leads_total) FROM model.fact_ad_insights_daily") == q(
        built, "SELECT sum(spend), sum(ad_leads) FROM mart.lead_funnel_daily"
    )


def _versions(wh: Warehouse, table: str, key: str) -> dict:
    return dict(q(wh, f"SELECT {key}, xmin::text FROM {table}"))  # noqa: S608 (test constants)


LAYERS = {
    "staging.conversations": "conversation_id",
    "model.fact_conversations": "conversation_id",
    "model.dim_contact": "contact_key",
    "model.dim_inbox": "(tenant_id, inbox_id)::text",
    "mart.conversation_service_daily": "(tenant_id, day, inbox_id)::text",
    "mart.conversation_growth_monthly": "(tenant_id, month)::text",
    "mart.lead_funnel_daily": "(tenant_id, day)::text",
}


def test_a_rerun_changes_nothing(built):
    before = {t: _versions(built, t, k) for t, k in LAYERS.items()}
    ledger_rows = q(built, "SELECT count(*) FROM ops.changed_days")
    runs = build_all(built)
    assert all(r.units == 0 for r in runs.values())
    assert {t: _versions(built, t, k) for t, k in LAYERS.items()} == before
    assert q(built, "SELECT count(*) FROM ops.changed_days") == ledger_rows


def test_changing_one_day_of_one_tenant_rewrites_only_that_unit(built):
    before = {t: _versions(built, t, k) for t, k in LAYERS.items()}
    with built.transaction() as conn:  # a new reply time on D2 of allpfit
        conn.execute(
            "UPDATE raw.conversas_analytics SET first_response_at = first_response_at + interval '7 seconds'"
            " WHERE conversation_id = 9"
        )
    runs = build_all(built)
    assert runs["staging/allpfit"].units == 1 and runs["staging/lacrei"].units == 0
    assert runs["model"].units == 1 and runs["service"].units == 1
    after = {t: _versions(built, t, k) for t, k in LAYERS.items()}
    changed = {t: {k for k in after[t] if before[t].get(k) != after[t][k]} for t in LAYERS}
    assert changed == {
        "staging.conversations": {9},
        "model.fact_conversations": {9},
        "model.dim_contact": set(),
        "model.dim_inbox": set(),
        "mart.conversation_service_daily": {f"(allpfit,{D2},14)"},
        "mart.conversation_growth_monthly": set(),  # March's counts did not move
        "mart.lead_funnel_daily": set(),  # recomputed (the day changed), identical: not rewritten
    }
    assert runs["funnel"].units == 1
    assert q(
        built,
        "SELECT first_reply_median_seconds FROM mart.conversation_service_daily"
        " WHERE tenant_id = 'allpfit' AND day = %s",
        (D2,),
    ) == [(12.0,)]


def test_a_deleted_conversation_moves_from_the_figures_to_the_deleted_count(built):
    with built.transaction() as conn:
        conn.execute("UPDATE raw.conversas_analytics SET deleted_at = now() WHERE conversation_id = 4")
    build_all(built)
    assert q(built, "SELECT is_deleted FROM staging.conversations WHERE conversation_id = 4") == [(True,)]
    assert q(
        built,
        "SELECT conversations, first_reply_median_seconds, deleted_conversations"
        " FROM mart.conversation_service_daily WHERE tenant_id = 'allpfit' AND day = %s"
        " AND inbox_id = 14",
        (D1,),
    ) == [(5, 25.0, 2)]


def test_no_name_phone_or_email_of_raw_past_raw(built):
    pii = {v for r in ROWS for v in (r["contact_name"], r["contact_phone"], r["contact_email"]) if v}
    pii |= {"".join(ch for ch in v if ch.isdigit()) for v in pii if any(ch.isdigit() for ch in v)}
    pii |= {"+5511987654321", "bruno@example.com"}
    columns = q(
        built,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE table_schema IN ('staging', 'model', 'mart')"
        " AND data_type IN ('text', 'ARRAY', 'jsonb', 'character varying')",
    )
    assert len(columns) > 10
    hits = []
    for schema, table, column in columns:
        for (value,) in q(built, f'SELECT DISTINCT CAST("{column}" AS text) FROM "{schema}"."{table}"'):  # noqa: S608
            if value and any(p.lower() in value.lower() for p in pii):
                hits.append((table, column, value))
    assert hits == []


def test_a_bad_score_is_nulled_and_recorded(wh):
    wh.load(conversas_analytics_raw, [[raw_row(50, D1, score=Decimal("150"))]])
    staging.build_tenant(wh, "allpfit", SALT, run_id="run-x")
    assert q(wh, "SELECT ai_probability_score FROM staging.conversations WHERE conversation_id = 50") == [(None,)]
    assert q(wh, "SELECT column_name, reason, value, action, partition FROM ops.rejected_values") == [
        ("ai_probability_score", "outside 0..100", "150", "nulled", "allpfit")
    ]


def test_lgpd_salt_is_required_with_a_real_warehouse_and_generated_once_on_the_demo(monkeypatch, tmp_path):
    monkeypatch.delenv("VETORIAL_LGPD_SALT", raising=False)
    monkeypatch.setenv("VETORIAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VETORIAL_WAREHOUSE_URL", "postgresql://u@127.0.0.1:1/x")
    with pytest.raises(ConfigError, match="VETORIAL_LGPD_SALT is not set"):
        lgpd_salt(load_settings())
    monkeypatch.delenv("VETORIAL_WAREHOUSE_URL")
    first = lgpd_salt(load_settings())
    path = tmp_path / "home" / "lgpd_salt"
    assert len(first) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert lgpd_salt(load_settings()) == first
    monkeypatch.setenv("VETORIAL_LGPD_SALT", "from-the-environment")
    assert lgpd_salt(load_settings()) == b"from-the-environment"
