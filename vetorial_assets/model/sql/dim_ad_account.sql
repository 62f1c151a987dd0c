-- Upsert model.dim_ad_account for one ad account: its metadata from raw.meta_ad_accounts
-- when fetched; until then an inferred member named as its insights name it (or
-- '(desconhecido)'), completed in place when the metadata arrives. A row that would not
-- change is not rewritten. Params: tenant_id, account_id.
INSERT INTO model.dim_ad_account AS d (account_id, tenant_id, account_name, currency, timezone_name, account_status,
                                       is_inferred)
SELECT CAST(%(account_id)s AS text),
       CAST(%(tenant_id)s AS text),
       coalesce(r.account_name, s.account_name, '(desconhecido)'),
       r.currency,
       r.timezone_name,
       r.account_status,
       r.account_id IS NULL
FROM (SELECT 1) AS one
LEFT JOIN raw.meta_ad_accounts AS r ON r.account_id = %(account_id)s
LEFT JOIN LATERAL (
    SELECT i.account_name FROM staging.insights_meta_ads AS i
    WHERE i.account_id = %(account_id)s AND i.account_name IS NOT NULL
    ORDER BY i.data DESC LIMIT 1
) AS s ON true
ON CONFLICT (account_id) DO UPDATE
SET tenant_id = EXCLUDED.tenant_id, account_name = EXCLUDED.account_name, currency = EXCLUDED.currency,
    timezone_name = EXCLUDED.timezone_name, account_status = EXCLUDED.account_status,
    is_inferred = EXCLUDED.is_inferred
WHERE (d.tenant_id, d.account_name, d.currency, d.timezone_name, d.account_status, d.is_inferred)
      IS DISTINCT FROM (EXCLUDED.tenant_id, EXCLUDED.account_name, EXCLUDED.currency, EXCLUDED.timezone_name,
                        EXCLUDED.account_status, EXCLUDED.is_inferred)
