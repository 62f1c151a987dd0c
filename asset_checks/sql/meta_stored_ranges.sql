-- Each account's stored date range in raw (what the staging checks cover when run alone).
SELECT account_id, min(data), max(data)
FROM raw.meta_ads_insights
GROUP BY account_id
ORDER BY account_id
