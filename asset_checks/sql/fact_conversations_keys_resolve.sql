-- Fact rows whose inbox or contact key has no dim row (anonymous conversations have no key).
SELECT count(*) FROM model.fact_conversations AS f
WHERE (f.inbox_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM model.dim_inbox AS d WHERE d.tenant_id = f.tenant_id AND d.inbox_id = f.inbox_id))
   OR (f.contact_key IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM model.dim_contact AS d WHERE d.tenant_id = f.tenant_id AND d.contact_key = f.contact_key))
