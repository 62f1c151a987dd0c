-- Upsert model.dim_adset with the adsets of one ad account seen in a day range of
-- staging.insights_meta_ads. The name is the one of the adset's latest day that has one
-- (ties: the greatest name), kept with that day (name_date) so that recomputing an older
-- range never overwrites a newer name; a adset seen only without a name is an inferred
-- member '(desconhecido)', named in place when a row with its name arrives. A row that
-- would not change is not rewritten. Params: tenant_id, account_id, first, last.
INSERT INTO model.dim_adset AS d (adset_id, campaign_id, account_id, tenant_id, adset_name, name_date, is_inferred)
SELECT DISTINCT ON (s.adset_id)
       s.adset_id,
       coalesce(s.campaign_id, '-1'),
       s.account_id,
       CAST(%(tenant_id)s AS text),
       coalesce(s.adset_name, '(desconhecido)'),
       CASE WHEN s.adset_name IS NOT NULL THEN s.data END,
       s.adset_name IS NULL
FROM staging.insights_meta_ads AS s
WHERE s.account_id = %(account_id)s
  AND s.data BETWEEN %(first)s AND %(last)s
  AND s.adset_id IS NOT NULL
ORDER BY s.adset_id, (s.adset_name IS NULL), s.data DESC, s.adset_name DESC
ON CONFLICT (adset_id) DO UPDATE
SET campaign_id = EXCLUDED.campaign_id, account_id = EXCLUDED.account_id, tenant_id = EXCLUDED.tenant_id,
    adset_name = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.adset_name > d.adset_name))) THEN EXCLUDED.adset_name ELSE d.adset_name END,
    name_date = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.adset_name > d.adset_name))) THEN EXCLUDED.name_date ELSE d.name_date END,
    is_inferred = CASE WHEN (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.adset_name > d.adset_name))) THEN false ELSE d.is_inferred END
WHERE (NOT EXCLUDED.is_inferred AND (d.is_inferred OR EXCLUDED.name_date > d.name_date
        OR (EXCLUDED.name_date = d.name_date AND EXCLUDED.adset_name > d.adset_name)))
   OR (d.campaign_id, d.account_id, d.tenant_id) IS DISTINCT FROM (EXCLUDED.campaign_id, EXCLUDED.account_id, EXCLUDED.tenant_id)
