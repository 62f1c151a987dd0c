-- Conversations, spend and ad leads of the facts and of mart.lead_funnel_daily (one scan of
-- each table).
SELECT c.n, m.conversations, f.spend, m.spend, f.leads, m.leads
FROM (SELECT count(*) FILTER (WHERE NOT is_deleted) AS n FROM model.fact_conversations) AS c,
     (SELECT coalesce(sum(spend), 0) AS spend, coalesce(sum(leads_total), 0) AS leads
      FROM model.fact_ad_insights_daily) AS f,
     (SELECT coalesce(sum(conversations_started), 0) AS conversations, coalesce(sum(spend), 0) AS spend,
             coalesce(sum(ad_leads), 0) AS leads
      FROM mart.lead_funnel_daily) AS m
