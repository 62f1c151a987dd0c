-- Rows and spend of one account range in raw vs staging (they must match after a run).
-- A raw row the cleaner left out on purpose (recorded in ops.rejected_values: staging,
-- row_skipped, with the raw row's key) and absent from staging is not expected there:
-- counted apart. Any run's record counts, so the check gives the same answer run alone.
WITH raw_rows AS (
    SELECT r.payload,
           EXISTS (
               SELECT 1 FROM ops.rejected_values AS v
               WHERE v.table_name = 'staging.insights_meta_ads'
                 AND v.action = 'row_skipped' AND v.partition = %(account_id)s
                 AND v.row_key ->> 'data' = r.data::text AND v.row_key ->> 'ad_id' = r.ad_id
                 AND v.row_key ->> 'publisher_platform' = r.publisher_platform
                 AND v.row_key ->> 'platform_position' = r.platform_position
           ) AND NOT EXISTS (
               -- staging's key: md5(ad_id + date + platform + position), as the cleaner makes it
               SELECT 1 FROM staging.insights_meta_ads AS s
               WHERE s.hash_id = md5(r.ad_id || r.data::text || r.publisher_platform || r.platform_position)
           ) AS skipped
    FROM raw.meta_ads_insights AS r
    WHERE r.account_id = %(account_id)s AND r.data BETWEEN %(first)s AND %(last)s
)
SELECT
    (SELECT count(*) FROM raw_rows WHERE NOT skipped) AS raw_rows,
    (SELECT count(*) FROM staging.insights_meta_ads
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS staging_rows,
    -- The cleaner's rule: spend that is not a number, or negative, counts as 0.
    (SELECT coalesce(sum(CASE WHEN payload->>'spend' ~ '^\s*[0-9]+(\.[0-9]*)?\s*$'
                              THEN round((payload->>'spend')::numeric, 2) ELSE 0 END), 0)
       FROM raw_rows WHERE NOT skipped) AS raw_spend,
    (SELECT coalesce(sum(valor_gasto), 0) FROM staging.insights_meta_ads
      WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s) AS staging_spend,
    (SELECT count(*) FROM raw_rows WHERE skipped) AS skipped_rows
