-- Rows and spend of one account range in raw vs staging (they must match after a run).
SELECT
    (SELECT count(*) FROM raw.meta_ads_insights
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS raw_rows,
    (SELECT count(*) FROM staging.insights_meta_ads
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS staging_rows,
    -- The cleaner's rule: spend that is not a number, or negative, counts as 0.
    (SELECT coalesce(sum(CASE WHEN payload->>'spend' ~ '^\s*[0-9]+(\.[0-9]*)?\s*$'
                              THEN round((payload->>'spend')::numeric, 2) ELSE 0 END), 0)
       FROM raw.meta_ads_insights
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS raw_spend,
    (SELECT coalesce(sum(valor_gasto), 0) FROM staging.insights_meta_ads
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS staging_spend
