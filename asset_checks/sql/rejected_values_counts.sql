-- What one run could not store for one source asset (ops.rejected_values): values stored as
-- NULL, and rows left out (a row is counted once however many of its values were bad).
SELECT
    count(*) AS rejected_values,
    count(*) FILTER (WHERE action = 'nulled') AS values_nulled,
    count(DISTINCT (table_name, coalesce(partition, ''), row_key::text)) FILTER (WHERE action = 'row_skipped')
        AS rows_skipped
FROM ops.rejected_values
WHERE run_id = %(run_id)s AND source = %(source)s
