-- Rows, spend and leads of staging.insights_meta_ads and model.fact_ad_insights_daily (one
-- scan of each table).
SELECT s.n, f.n, s.spend, f.spend, s.leads, f.leads
FROM (SELECT count(*) AS n, coalesce(sum(valor_gasto), 0) AS spend, coalesce(sum(leads_total), 0) AS leads
      FROM staging.insights_meta_ads) AS s,
     (SELECT count(*) AS n, coalesce(sum(spend), 0) AS spend, coalesce(sum(leads_total), 0) AS leads
      FROM model.fact_ad_insights_daily) AS f
