-- mart.campaign_performance_daily for one tenant and a day range, from the Meta fact.
-- Ratios are NULL when their denominator is 0 (NULLIF), never 0 or an error; rounded to
-- 4 decimals like staging. Reach is the SUM of per-ad-placement daily reach: Meta
-- deduplicates people only within one row, so it over-counts people reached by several
-- ads or placements (not unique reach).
-- Params: tenant_id, first, last.
SELECT f.tenant_id,
       f.date,
       f.account_id,
       f.campaign_id,
       sum(f.spend) AS spend,
       sum(f.impressions) AS impressions,
       sum(f.reach) AS reach,
       sum(f.clicks) AS clicks,
       round(sum(f.clicks) * 100.0 / NULLIF(sum(f.impressions), 0), 4) AS ctr,
       round(sum(f.spend) / NULLIF(sum(f.clicks), 0), 4) AS cpc,
       sum(f.leads_form) AS leads_form,
       sum(f.leads_site) AS leads_site,
       sum(f.leads_messaging) AS leads_messaging,
       sum(f.leads_total) AS leads_total,
       round(sum(f.spend) / NULLIF(sum(f.leads_total), 0), 4) AS cpl,
       coalesce(sum(f.spend) FILTER (WHERE f.platform = 'facebook'), 0) AS spend_facebook,
       coalesce(sum(f.spend) FILTER (WHERE f.platform = 'instagram'), 0) AS spend_instagram,
       coalesce(sum(f.impressions) FILTER (WHERE f.platform = 'facebook'), 0) AS impressions_facebook,
       coalesce(sum(f.impressions) FILTER (WHERE f.platform = 'instagram'), 0) AS impressions_instagram,
       coalesce(sum(f.clicks) FILTER (WHERE f.platform = 'facebook'), 0) AS clicks_facebook,
       coalesce(sum(f.clicks) FILTER (WHERE f.platform = 'instagram'), 0) AS clicks_instagram,
       coalesce(sum(f.leads_total) FILTER (WHERE f.platform = 'facebook'), 0) AS leads_facebook,
       coalesce(sum(f.leads_total) FILTER (WHERE f.platform = 'instagram'), 0) AS leads_instagram
FROM model.fact_ad_insights_daily AS f
WHERE f.tenant_id = %(tenant_id)s
  AND f.date BETWEEN %(first)s AND %(last)s
GROUP BY f.tenant_id, f.date, f.account_id, f.campaign_id
