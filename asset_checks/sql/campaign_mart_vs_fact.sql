-- Spend, leads and clicks of model.fact_ad_insights_daily and mart.campaign_performance_daily
-- (one scan of each table).
SELECT f.spend, m.spend, f.leads, m.leads, f.clicks, m.clicks
FROM (SELECT coalesce(sum(spend), 0) AS spend, coalesce(sum(leads_total), 0) AS leads,
             coalesce(sum(clicks), 0) AS clicks
      FROM model.fact_ad_insights_daily) AS f,
     (SELECT coalesce(sum(spend), 0) AS spend, coalesce(sum(leads_total), 0) AS leads,
             coalesce(sum(clicks), 0) AS clicks
      FROM mart.campaign_performance_daily) AS m
