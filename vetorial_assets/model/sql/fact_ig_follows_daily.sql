-- fact_ig_follows_daily for one Instagram account and a day range, from raw.ig_follows.
-- A day Meta had no data for keeps its row (has_data false) with NULL metrics, never 0.
-- Params: tenant_id, ig_account_id, first, last.
SELECT f.ig_account_id,
       f.data_registro AS date,
       CAST(%(tenant_id)s AS text) AS tenant_id,
       f.status = 'ok' AS has_data,
       CASE WHEN f.status = 'ok' THEN f.follows END AS follows,
       CASE WHEN f.status = 'ok' THEN f.unfollows END AS unfollows,
       CASE WHEN f.status = 'ok' THEN f.net END AS net
FROM raw.ig_follows AS f
WHERE f.ig_account_id = %(ig_account_id)s
  AND f.data_registro BETWEEN %(first)s AND %(last)s
