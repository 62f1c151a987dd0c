-- Fact rows of model.fact_ad_insights_daily with a key that has no dim row (must be 0:
-- a late key gets an inferred member, never a dangling reference). The fact's distinct key
-- combinations are few (one per ad and placement): they are looked up, not every row.
WITH keys AS (
    SELECT account_id, campaign_id, adset_id, ad_id, platform, position, count(*) AS n
    FROM model.fact_ad_insights_daily
    GROUP BY account_id, campaign_id, adset_id, ad_id, platform, position
)
SELECT CAST(coalesce(sum(n), 0) AS bigint) FROM keys AS f
WHERE NOT EXISTS (SELECT 1 FROM model.dim_ad_account AS d WHERE d.account_id = f.account_id)
   OR NOT EXISTS (SELECT 1 FROM model.dim_campaign AS d WHERE d.campaign_id = f.campaign_id)
   OR NOT EXISTS (SELECT 1 FROM model.dim_adset AS d WHERE d.adset_id = f.adset_id)
   OR NOT EXISTS (SELECT 1 FROM model.dim_ad AS d WHERE d.ad_id = f.ad_id)
   OR NOT EXISTS (SELECT 1 FROM model.dim_placement AS d WHERE d.platform = f.platform AND d.position = f.position)
