-- Warehouses created before ops.etl_control had rows_total. Checked in the catalog first: a
-- warehouse created after the column existed, but before migrations were recorded, has it.
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
