-- Rows, spend and leads of staging.insights_meta_ads and model.fact_ad_insights_daily.
SELECT (SELECT count(*) FROM staging.insights_meta_ads), (SELECT count(*) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(valor_gasto), 0) FROM staging.insights_meta_ads),
       (SELECT coalesce(sum(spend), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(leads_total), 0) FROM staging.insights_meta_ads),
       (SELECT coalesce(sum(leads_total), 0) FROM model.fact_ad_insights_daily)
