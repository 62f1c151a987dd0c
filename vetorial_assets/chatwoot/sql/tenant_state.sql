-- A tenant's sync state, from its successful runs: the watermark (newest watermark_end) and
-- the row count the run that last committed recorded (NULL when that run predates
-- rows_total). Successes are serialized by the tenant lock, so the newest completed_at is
-- the last commit.
SELECT
    (SELECT max(watermark_end)
       FROM ops.etl_control
      WHERE asset_key = %(asset_key)s AND tenant_id = %(tenant_id)s AND status = 'success') AS watermark,
    (SELECT rows_total
       FROM ops.etl_control
      WHERE asset_key = %(asset_key)s AND tenant_id = %(tenant_id)s AND status = 'success'
      ORDER BY completed_at DESC
      LIMIT 1) AS rows_total
