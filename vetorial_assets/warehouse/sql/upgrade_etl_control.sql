-- Warehouses created before ops.etl_control had rows_total. Checked in the catalog first:
-- ALTER TABLE would queue for an exclusive lock behind every open sync transaction (they
-- read this table) on each process's first schema pass.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = 'ops.etl_control'::regclass AND attname = 'rows_total' AND NOT attisdropped
    ) THEN
        ALTER TABLE ops.etl_control ADD COLUMN rows_total bigint;
    END IF;
END
$$;
