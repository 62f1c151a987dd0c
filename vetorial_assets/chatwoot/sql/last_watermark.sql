-- The watermark: newest watermark_end of a successful run for this asset and tenant.
SELECT max(watermark_end)
FROM ops.etl_control
WHERE asset_key = %(asset_key)s AND tenant_id = %(tenant_id)s AND status = 'success'
