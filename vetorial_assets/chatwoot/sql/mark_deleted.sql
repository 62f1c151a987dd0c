-- Conversations of the tenant that the source no longer has: mark, do not drop.
-- _source_keys holds every key the source returned in this run (same transaction).
UPDATE raw.conversas_analytics AS c
SET deleted_at = now()
WHERE c.tenant_id = %(tenant_id)s
  AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM _source_keys AS k WHERE k.conversation_id = c.conversation_id)
