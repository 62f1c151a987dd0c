-- Upsert model.dim_campaign with the campaigns of one ad account seen in a day range of
-- staging.insights_meta_ads. The name is the one of the campaign's latest day that has one
-- (ties: the greatest name), kept with that day (name_date) so that recomputing an older
-- range never overwrites a newer name; a campaign seen only without a name is an inferred
-- member '(desconhecido)', named in place when a row with its name arrives. A row that
-- would not change is not rewritten. Params: tenant_id, account_id, first, last.
INSERT INTO model.dim_campaign AS d (campaign_id, account_id, tenant_id, campaign_name, name_date, is_inferred)
SELECT DISTINCT ON (s.campaign_id)
       s.campaign_id,
       s.account_id,
       CAST(%(tenant_id)s AS text),
       coalesce(s.campaign_name, '(desconhecido)'),
       CASE WHEN s.campaign_name IS NOT NULL THEN s.data END,
       s.campaign_name IS NULL
FROM staging.insights_meta_ads AS s
WHERE s.account_id = %(account_id)s
  AND s.data BETWEEN %(first)s AND %(last)s
  AND s.campaign_id IS NOT NULL
ORDER BY s.campaign_id, (s.campaign_name IS NULL), s.data DESC, s.campaign_name DESC
ON CONFLICT (campaign_id) DO UPDATE
SET account_id = EXCLUDED.account_id, tenant_id = EXCLUDED.tenant_id,
    campaign_name = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.campaign_name > d.campaign_name))) THEN EXCLUDED.campaign_name ELSE d.campaign_name END,
    name_date = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.campaign_name > d.campaign_name))) THEN EXCLUDED.name_date ELSE d.name_date END,
    is_inferred = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.campaign_name > d.campaign_name))) THEN false ELSE d.is_inferred END
WHERE (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.campaign_name > d.campaign_name)))
   OR (d.account_id, d.tenant_id) IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.tenant_id)
