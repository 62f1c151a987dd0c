-- Summary of extraction runs, newest first (the v3 ETL's vw_etl_stats).
CREATE OR REPLACE VIEW ops.vw_etl_stats AS
SELECT
    c.execution_id,
    c.asset_key,
    c.tenant_id,
    c.started_at,
    c.completed_at,
    c.status,
    c.load_type,
    c.triggered_by,
    c.watermark_start,
    c.watermark_end,
    c.rows_extracted,
    c.rows_inserted,
    c.rows_updated,
    c.rows_unchanged,
    c.rows_deleted,
    c.duration_seconds,
    CASE WHEN c.duration_seconds > 0
         THEN round(c.rows_extracted / c.duration_seconds, 1) END AS rows_per_second,
    c.error_message
FROM ops.etl_control AS c
ORDER BY c.started_at DESC;
