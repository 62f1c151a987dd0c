"""Model and marts of the Meta/Instagram side on hand-made staging and raw rows (a real
PostgreSQL, the real change ledger): hand-computed CTR/CPC/CPL and Instagram growth,
inferred members, reconciliation staging = fact = mart, idempotent re-runs, and a change
of one day of one account rewriting only that unit."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from resources.warehouse import Warehouse
from vetorial_assets.mart.assets import build_campaign_performance, build_instagram_growth
from vetorial_assets.model.assets import build_ig_star, build_meta_star, tenant_rows
from vetorial_assets.settings import shipped_tenants_file
from vetorial_assets.tenants import load_tenants
from vetorial_assets.warehouse.tables import ig_follows_raw, insights_meta_ads
from vetorial_assets.warehouse.tables.model import dim_tenant

ACT1, ACT2, ACT3 = "act_100000000000001", "act_100000000000002", "act_100000000000003"  # allpfit, allpfit, lacrei
IG = "17841400000000001"
D = date(2026, 3, 10)


def staging_row(
    ad: str,
    day: date,
    platform: str,
    position: str,
    *,
    spend: str,
    impressions: int,
    clicks: int,
    form: int = 0,
    site: int = 0,
    messaging: int = 0,
    account: str = ACT1,
    campaign: str | None = "c1",
    campaign_name: str | None = "Campanha 1",
    adset: str | None = "s1",
    ad_name: str | None = None,
    reach: int | None = None,
) -> dict:
    leads = form + site + messaging
    return {
        "hash_id": hashlib.md5(f"{ad}{day.isoformat()}{platform}{position}".encode()).hexdigest(),
        "data": day,
        "account_id": account,
        "account_name": "Conta " + account[-1],
        "campaign_id": campaign,
        "campaign_name": campaign_name,
        "adset_id": adset,
        "adset_name": None if adset is None else "Conjunto",
        "ad_id": ad,
        "ad_name": ad_name if ad_name is not None else f"Anúncio {ad}",
        "plataforma": platform,
        "posicionamento": position,
        "valor_gasto": Decimal(spend),
        "impressoes": impressions,
        "alcance": reach if reach is not None else impressions // 2,
        "cliques": clicks,
        "leads_formulario": form,
        "leads_site": site,
        "leads_mensagem": messaging,
        "leads_total": leads,
        "seguidores_instagram": 0,
    }


def load_staging(warehouse: Warehouse, rows: list[dict]) -> None:
    warehouse.load(insights_meta_ads, [rows])


@pytest.fixture
def warehouse(fresh_db) -> Warehouse:
    wh = Warehouse(url=fresh_db.url)
    wh.ensure_schema()
    return wh


@pytest.fixture
def tenants():
    return load_tenants(shipped_tenants_file())


def build_all(warehouse, tenants):
    warehouse.load(dim_tenant, [tenant_rows(tenants)])  # the dim_tenant asset
    return (build_meta_star(warehouse, tenants), build_campaign_performance(warehouse))


def query(warehouse: Warehouse, text: str, params=()):
    with warehouse.transaction() as conn:
        return conn.execute(text, params).fetchall()


# ----------------------------------------------------------------------------- hand-computed ratios


def test_ctr_cpc_cpl_and_the_platform_split_are_computed_as_by_hand(warehouse, tenants):
    load_staging(
        warehouse,
        [
            staging_row("a1", D, "facebook", "feed", spend="30.00", impressions=2000, clicks=10, form=2, site=1),
            staging_row("a2", D, "instagram", "story", spend="20.00", impressions=1000, clicks=15, messaging=2),
            # A campaign with spend but no impressions, clicks or leads: every ratio NULL, never 0.
            staging_row(
                "a3",
                D,
                "facebook",
                "feed",
                spend="5.00",
                impressions=0,
                clicks=0,
                campaign="c2",
                campaign_name="Campanha 2",
            ),
        ],
    )
    build_all(warehouse, tenants)
    rows = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            """
        SELECT campaign_id, spend, impressions, clicks, ctr, cpc, leads_form, leads_site, leads_messaging,
               leads_total, cpl, spend_facebook, spend_instagram, leads_facebook, leads_instagram, tenant_id
        FROM mart.campaign_performance_daily WHERE date = %s""",
            (D,),
        )
    }
    # c1: spend 50, impressions 3000, clicks 25, leads 5.
    # CTR = 25 / 3000 * 100 = 0.8333 %, CPC = 50 / 25 = 2, CPL = 50 / 5 = 10.
    assert rows["c1"] == (
        Decimal("50.00"),
        3000,
        25,
        Decimal("0.8333"),
        Decimal("2.0000"),
        2,
        1,
        2,
        5,
        Decimal("10.0000"),
        Decimal("30.00"),
        Decimal("20.00"),
        3,
        2,
        "allpfit",
    )
    assert rows["c2"][3:5] == (None, None) and rows["c2"][9] is None and rows["c2"][0] == Decimal("5.00")
    # The named view: current names joined from the dims.
    assert query(
        warehouse,
        "SELECT campaign_name, account_name, tenant_name, currency FROM "
        "mart.vw_campaign_performance_daily WHERE campaign_id = 'c1'",
    ) == [("Campanha 1", "Conta 1", "AllpFit", None)]


def test_instagram_growth_cumulative_and_seven_day_average_by_hand(warehouse, tenants):
    # (follows, unfollows) per day; None = Meta had no data for the day.
    days = [(10, 2), (5, 5), None, (3, 1), (0, 4), (6, 0), (1, 1), (7, 2), None]
    rows = []
    for i, counts in enumerate(days):
        ok = counts is not None
        rows.append(
            {
                "ig_account_id": IG,
                "data_registro": D + timedelta(days=i),
                "status": "ok" if ok else "no_data",
                "follows": counts[0] if ok else None,
                "unfollows": counts[1] if ok else None,
                "net": counts[0] - counts[1] if ok else None,
                "payload": json.dumps({"day": i}),
            }
        )
    warehouse.load(ig_follows_raw, [rows])
    build_ig_star(warehouse, tenants)
    build_instagram_growth(warehouse)
    got = query(
        warehouse,
        "SELECT has_data, net, cumulative_net, net_7d_avg, tenant_id FROM mart.instagram_growth_daily"
        " WHERE ig_account_id = %s ORDER BY date",
        (IG,),
    )
    # net: 8, 0, -, 2, -4, 6, 0, 5, -; cumulative adds 0 for a day without data;
    # the 7-day average is over the days with data among D-6..D.
    assert [(h, n, c) for h, n, c, _, _ in got] == [
        (True, 8, 8),
        (True, 0, 8),
        (False, None, 8),
        (True, 2, 10),
        (True, -4, 6),
        (True, 6, 12),
        (True, 0, 12),
        (True, 5, 17),
        (False, None, 17),
    ]
    assert [a for _, _, _, a, _ in got] == [
        Decimal(x) for x in ("8", "4", "4", "3.3333", "1.5", "2.4", "2", "1.5", "1.8")
    ]
    assert {t for *_, t in got} == {"allpfit"}
    # A late correction of day 1 moves day 1's net, every later cumulative and the averages up to day 7.
    with warehouse.transaction() as conn:
        conn.execute(
            "UPDATE raw.ig_follows SET follows = 9, net = 4 WHERE ig_account_id = %s AND data_registro = %s",
            (IG, D + timedelta(days=1)),
        )
    build_ig_star(warehouse, tenants)
    run = build_instagram_growth(warehouse)
    assert run.units == 1 and not run.full
    got = query(
        warehouse,
        "SELECT cumulative_net, net_7d_avg FROM mart.instagram_growth_daily WHERE ig_account_id = %s ORDER BY date",
        (IG,),
    )
    assert [c for c, _ in got] == [8, 12, 12, 14, 10, 16, 16, 21, 21]
    assert got[7][1] == Decimal("2.1667") and got[8][1] == Decimal("1.8")  # (4+2-4+6+0+5)/6; day 8 lost day 1


# ----------------------------------------------------------------------------- members


def test_late_keys_get_inferred_members_that_the_real_rows_complete(warehouse, tenants):
    load_staging(
        warehouse,
        [
            staging_row(
                "a1", D, "facebook", "feed", spend="1.00", impressions=10, clicks=1, campaign_name=None, ad_name=None
            ),
            # No campaign or ad set id at all: the unknown member '-1', never a dropped row.
            staging_row(
                "a9", D, "instagram", "reels", spend="2.00", impressions=10, clicks=1, campaign=None, adset=None
            ),
        ],
    )
    with warehouse.transaction() as conn:  # an ad name stays NULL in staging: the ad is inferred too
        conn.execute("UPDATE staging.insights_meta_ads SET ad_name = NULL WHERE ad_id = 'a1'")
    build_all(warehouse, tenants)
    assert query(warehouse, "SELECT campaign_id, campaign_name, is_inferred FROM model.dim_campaign ORDER BY 1") == [
        ("-1", "(desconhecido)", True),
        ("c1", "(desconhecido)", True),
    ]
    assert query(warehouse, "SELECT ad_name, is_inferred FROM model.dim_ad WHERE ad_id = 'a1'") == [
        ("(desconhecido)", True)
    ]
    assert query(warehouse, "SELECT campaign_id, adset_id FROM model.fact_ad_insights_daily WHERE ad_id = 'a9'") == [
        ("-1", "-1")
    ]
    # raw.meta_ad_accounts not fetched yet: the account is inferred, named as its insights name it.
    assert query(
        warehouse, "SELECT account_name, currency, is_inferred FROM model.dim_ad_account WHERE account_id = %s", (ACT1,)
    ) == [("Conta 1", None, True)]
    # Every fact key resolves to a dim row.
    assert query(
        warehouse,
        """
        SELECT count(*) FROM model.fact_ad_insights_daily f
        WHERE NOT EXISTS (SELECT 1 FROM model.dim_campaign c WHERE c.campaign_id = f.campaign_id)
           OR NOT EXISTS (SELECT 1 FROM model.dim_adset s WHERE s.adset_id = f.adset_id)
           OR NOT EXISTS (SELECT 1 FROM model.dim_ad a WHERE a.ad_id = f.ad_id)
           OR NOT EXISTS (SELECT 1 FROM model.dim_ad_account a WHERE a.account_id = f.account_id)
           OR NOT EXISTS (SELECT 1 FROM model.dim_placement p WHERE p.platform = f.platform AND p.position = f.position)
           OR NOT EXISTS (SELECT 1 FROM model.dim_tenant t WHERE t.tenant_id = f.tenant_id)""",
    ) == [(0,)]

    # The real rows arrive: the next day names the campaign and the ad; the metadata lands.
    load_staging(
        warehouse,
        [
            staging_row(
                "a1",
                D + timedelta(days=1),
                "facebook",
                "feed",
                spend="1.00",
                impressions=10,
                clicks=1,
                campaign_name="Black Friday",
                ad_name="Vídeo",
            )
        ],
    )
    with warehouse.transaction() as conn:
        conn.execute(
            "INSERT INTO raw.meta_ad_accounts (account_id, account_name, currency, timezone_name, "
            "account_status, payload) VALUES (%s, 'AllpFit Ads', 'BRL', 'America/Sao_Paulo', 1, '{}')",
            (ACT1,),
        )
    build_all(warehouse, tenants)
    assert query(warehouse, "SELECT campaign_name, is_inferred FROM model.dim_campaign WHERE campaign_id = 'c1'") == [
        ("Black Friday", False)
    ]
    assert query(warehouse, "SELECT ad_name, is_inferred FROM model.dim_ad WHERE ad_id = 'a1'") == [("Vídeo", False)]
    assert query(
        warehouse,
        "SELECT account_name, currency, timezone_name, is_inferred FROM model.dim_ad_account WHERE account_id = %s",
        (ACT1,),
    ) == [("AllpFit Ads", "BRL", "America/Sao_Paulo", False)]
    # Recomputing the older day (no name then) does not take the newer name back.
    with warehouse.transaction() as conn:
        conn.execute("UPDATE staging.insights_meta_ads SET impressoes = 11 WHERE ad_id = 'a1' AND data = %s", (D,))
    build_all(warehouse, tenants)
    assert query(warehouse, "SELECT campaign_name FROM model.dim_campaign WHERE campaign_id = 'c1'") == [
        ("Black Friday",)
    ]


# ----------------------------------------------------------------------------- incremental


def _sample(days: int = 4) -> list[dict]:
    rows = []
    for i in range(days):
        day = D + timedelta(days=i)
        for account, campaign in ((ACT1, "c1"), (ACT2, "c2"), (ACT3, "c3")):
            for ad, (platform, position) in enumerate(
                (("facebook", "feed"), ("instagram", "story"), ("instagram", "reels"))
            ):
                rows.append(
                    staging_row(
                        f"{account[-1]}{ad}",
                        day,
                        platform,
                        position,
                        spend=f"{10 + i + ad}.25",
                        impressions=1000 + 10 * i,
                        clicks=20 + ad,
                        form=ad,
                        site=i % 2,
                        account=account,
                        campaign=campaign,
                    )
                )
    return rows


def _versions(warehouse) -> dict:
    """Every model/mart row's key -> xmin (a rewritten row gets a new one)."""
    out = {}
    for table, key in (
        ("model.fact_ad_insights_daily", "hash_id"),
        ("mart.campaign_performance_daily", "tenant_id || date || account_id || campaign_id"),
        ("model.dim_campaign", "campaign_id"),
        ("model.dim_ad", "ad_id"),
        ("model.dim_ad_account", "account_id"),
        ("model.dim_placement", "platform || position"),
    ):
        for k, xmin in query(warehouse, f"SELECT {key}, xmin::text FROM {table}"):  # constant names
            out[(table, k)] = xmin
    return out


def _ledger_size(warehouse) -> int:
    return query(warehouse, "SELECT count(*) FROM ops.changed_days")[0][0]


def test_rerunning_changes_nothing(warehouse, tenants):
    load_staging(warehouse, _sample())
    star, mart = build_all(warehouse, tenants)
    assert star.full and mart.full and star.total("model.fact_ad_insights_daily").inserted == 36
    before, ledger = _versions(warehouse), _ledger_size(warehouse)
    star, mart = build_all(warehouse, tenants)
    assert (star.full, star.units, mart.full, mart.units) == (False, 0, False, 0)
    assert _versions(warehouse) == before  # no row rewritten, dims included
    assert _ledger_size(warehouse) == ledger  # and so nothing recorded for consumers


def test_changing_one_day_of_one_account_rewrites_only_that_unit(warehouse, tenants):
    load_staging(warehouse, _sample())
    build_all(warehouse, tenants)
    before = _versions(warehouse)
    day = D + timedelta(days=2)
    # Meta restates one ad's spend on one day of one account (a reload would do the same).
    with warehouse.transaction() as conn:
        conn.execute(
            "UPDATE staging.insights_meta_ads SET valor_gasto = valor_gasto + 100, leads_site = 7, "
            "leads_total = leads_formulario + 7 + leads_mensagem "
            "WHERE account_id = %s AND data = %s AND ad_id = '10'",
            (ACT1, day),
        )
    star, mart = build_all(warehouse, tenants)
    assert (star.full, star.units, mart.full, mart.units) == (False, 1, False, 1)
    after = _versions(warehouse)
    changed = {k for k in before if after[k] != before[k]}
    changed_hash = hashlib.md5(f"10{day.isoformat()}facebookfeed".encode()).hexdigest()
    # Exactly the fact row that changed and its campaign's mart row for that day; the other
    # fact rows of the same unit (identical) and every other day, account and dim untouched.
    assert changed == {
        ("model.fact_ad_insights_daily", changed_hash),
        ("mart.campaign_performance_daily", f"allpfit{day.isoformat()}{ACT1}c1"),
    }
    assert set(after) == set(before)


def test_totals_reconcile_staging_fact_and_mart(warehouse, tenants):
    load_staging(warehouse, _sample())
    build_all(warehouse, tenants)
    # A restated day with a vanished row, and a new day: still reconciled after the incremental run.
    with warehouse.transaction() as conn:
        conn.execute(
            "DELETE FROM staging.insights_meta_ads WHERE account_id = %s AND data = %s AND ad_id = '32'", (ACT3, D)
        )
    load_staging(
        warehouse,
        [
            staging_row(
                "99",
                D + timedelta(days=9),
                "facebook",
                "feed",
                spend="3.33",
                impressions=5,
                clicks=1,
                site=4,
                account=ACT2,
                campaign="c2",
            )
        ],
    )
    build_all(warehouse, tenants)
    per_layer = query(
        warehouse,
        """
        SELECT 'staging', sum(valor_gasto), sum(leads_total), sum(leads_formulario), sum(leads_site),
               sum(leads_mensagem), count(DISTINCT (account_id, data)) FROM staging.insights_meta_ads
        UNION ALL SELECT 'fact', sum(spend), sum(leads_total), sum(leads_form), sum(leads_site), sum(leads_messaging),
               count(DISTINCT (account_id, date)) FROM model.fact_ad_insights_daily
        UNION ALL SELECT 'mart', sum(spend), sum(leads_total), sum(leads_form), sum(leads_site), sum(leads_messaging),
               count(DISTINCT (account_id, date)) FROM mart.campaign_performance_daily""",
    )
    assert len({row[1:] for row in per_layer}) == 1, per_layer
    per_tenant_day = query(
        warehouse,
        """
        SELECT coalesce(s.tenant, m.tenant_id), coalesce(s.data, m.date), s.spend, m.spend
        FROM (SELECT CASE WHEN account_id = %s THEN 'lacrei' ELSE 'allpfit' END AS tenant, data,
                     sum(valor_gasto) AS spend FROM staging.insights_meta_ads GROUP BY 1, 2) s
        FULL JOIN (SELECT tenant_id, date, sum(spend) AS spend FROM mart.campaign_performance_daily GROUP BY 1, 2) m
          ON m.tenant_id = s.tenant AND m.date = s.data
        WHERE s.spend IS DISTINCT FROM m.spend""",
        (ACT3,),
    )
    assert per_tenant_day == []


def test_the_layer_checks_name_an_orphan_fact_and_a_mart_sum_off_by_one(warehouse, tenants):
    from asset_checks.warehouse_meta import evaluate_campaign_mart, evaluate_fact_ad

    load_staging(warehouse, _sample())
    build_all(warehouse, tenants)
    with warehouse.transaction() as conn:
        assert all(r.passed for r in [*evaluate_fact_ad(conn), *evaluate_campaign_mart(conn)])
        # An orphan fact (its ad in no dim) and a mart figure off by one cent.
        conn.execute(
            "UPDATE model.fact_ad_insights_daily SET ad_id = 'no-such-ad' WHERE ctid IN "
            "(SELECT ctid FROM model.fact_ad_insights_daily ORDER BY hash_id LIMIT 1)"
        )
        conn.execute(
            "UPDATE mart.campaign_performance_daily SET spend = spend + 0.01 WHERE ctid IN "
            "(SELECT ctid FROM mart.campaign_performance_daily ORDER BY date LIMIT 1)"
        )
        fact = {r.check_name: r for r in evaluate_fact_ad(conn)}
        (mart,) = evaluate_campaign_mart(conn)
    assert not fact["keys_resolve_to_dims"].passed
    assert fact["keys_resolve_to_dims"].metadata["rows_with_unresolved_keys"].value == 1
    assert not mart.passed
    spend = {k: mart.metadata[k].value for k in ("fact_spend", "mart_spend")}
    assert round(spend["mart_spend"] - spend["fact_spend"], 2) == 0.01, spend
