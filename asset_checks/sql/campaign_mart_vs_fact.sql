-- Spend, leads and clicks of model.fact_ad_insights_daily and mart.campaign_performance_daily.
SELECT (SELECT coalesce(sum(spend), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(spend), 0) FROM mart.campaign_performance_daily),
       (SELECT coalesce(sum(leads_total), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(leads_total), 0) FROM mart.campaign_performance_daily),
       (SELECT coalesce(sum(clicks), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(clicks), 0) FROM mart.campaign_performance_daily)
