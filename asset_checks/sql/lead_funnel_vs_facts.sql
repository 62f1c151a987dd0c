-- Conversations, spend and ad leads of the facts and of mart.lead_funnel_daily.
SELECT (SELECT count(*) FROM model.fact_conversations WHERE NOT is_deleted),
       (SELECT coalesce(sum(conversations_started), 0) FROM mart.lead_funnel_daily),
       (SELECT coalesce(sum(spend), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(spend), 0) FROM mart.lead_funnel_daily),
       (SELECT coalesce(sum(leads_total), 0) FROM model.fact_ad_insights_daily),
       (SELECT coalesce(sum(ad_leads), 0) FROM mart.lead_funnel_daily)
