-- Upsert model.dim_ad with the ads of one ad account seen in a day range of
-- staging.insights_meta_ads. The name is the one of the ad's latest day that has one
-- (ties: the greatest name), kept with that day (name_date) so that recomputing an older
-- range never overwrites a newer name; a ad seen only without a name is an inferred
-- member '(desconhecido)', named in place when a row with its name arrives. A row that
-- would not change is not rewritten. Params: tenant_id, account_id, first, last.
INSERT INTO model.dim_ad AS d (ad_id, adset_id, campaign_id, account_id, tenant_id, ad_name, name_date, is_inferred)
SELECT DISTINCT ON (s.ad_id)
       s.ad_id,
       coalesce(s.adset_id, '-1'),
       coalesce(s.campaign_id, '-1'),
       s.account_id,
       CAST(%(tenant_id)s AS text),
       coalesce(s.ad_name, '(desconhecido)'),
       CASE WHEN s.ad_name IS NOT NULL THEN s.data END,
       s.ad_name IS NULL
FROM staging.insights_meta_ads AS s
WHERE s.account_id = %(account_id)s
  AND s.data BETWEEN %(first)s AND %(last)s
ORDER BY s.ad_id, (s.ad_name IS NULL), s.data DESC, s.ad_name DESC
ON CONFLICT (ad_id) DO UPDATE
SET adset_id = EXCLUDED.adset_id, campaign_id = EXCLUDED.campaign_id, account_id = EXCLUDED.account_id, tenant_id = EXCLUDED.tenant_id,
    ad_name = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.ad_name > d.ad_name))) THEN EXCLUDED.ad_name ELSE d.ad_name END,
    name_date = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.ad_name > d.ad_name))) THEN EXCLUDED.name_date ELSE d.name_date END,
    is_inferred = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.ad_name > d.ad_name))) THEN false ELSE d.is_inferred END
WHERE (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.ad_name > d.ad_name)))
   OR (d.adset_id, d.campaign_id, d.account_id, d.tenant_id) IS DISTINCT FROM (EXCLUDED.adset_id, EXCLUDED.campaign_id, EXCLUDED.account_id, EXCLUDED.tenant_id)
