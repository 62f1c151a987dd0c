-- Warehouses created before the Chatwoot performance work: drop the (tenant_id, conversation_updated_at) index no statement uses
-- any more (it cost every loaded row an index insert), and give the table the fillfactor
-- new ones get, unless someone chose another one.
DROP INDEX IF EXISTS raw.ix_conversas_analytics_tenant_updated;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_class c, unnest(coalesce(c.reloptions, '{}')) AS o(option)
        WHERE c.oid = 'raw.conversas_analytics'::regclass AND starts_with(o.option, 'fillfactor=')
    ) THEN
        ALTER TABLE raw.conversas_analytics SET (fillfactor = 90);
    END IF;
END
$$;
