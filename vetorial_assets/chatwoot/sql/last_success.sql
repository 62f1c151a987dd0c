-- The run that last committed this asset and tenant: successes are serialized by the
-- tenant lock, so the newest completed_at is the last commit.
SELECT execution_id
FROM ops.etl_control
WHERE asset_key = %(asset_key)s AND tenant_id = %(tenant_id)s AND status = 'success'
ORDER BY completed_at DESC
LIMIT 1
