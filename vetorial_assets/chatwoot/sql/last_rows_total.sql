-- The tenant's row count as the run that last committed it recorded (NULL when that run
-- predates the column): successes are serialized by the tenant lock, so the newest
-- completed_at is the last commit.
SELECT rows_total
FROM ops.etl_control
WHERE asset_key = %(asset_key)s AND tenant_id = %(tenant_id)s AND status = 'success'
ORDER BY completed_at DESC
LIMIT 1
