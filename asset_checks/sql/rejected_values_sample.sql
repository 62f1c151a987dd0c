-- The first few values one run could not store for one source asset, in recorded order.
-- The stored value is left out: the sample goes into the Dagster instance's metadata.
SELECT table_name, partition, row_key, column_name, reason, action
FROM ops.rejected_values
WHERE run_id = %(run_id)s AND source = %(source)s
ORDER BY id
LIMIT %(sample)s
