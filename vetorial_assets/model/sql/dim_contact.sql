-- dim_contact rows of one tenant (all its contacts, or the given ones): first and last
-- conversation date over every conversation of the contact (deleted ones too, so every
-- fact row's contact_key has its dim row). Anonymous conversations (no key) have none.
SELECT tenant_id, contact_key, min(conversation_date) AS first_seen_date, max(conversation_date) AS last_seen_date
FROM staging.conversations
WHERE tenant_id = %(tenant)s AND contact_key IS NOT NULL
  AND (CAST(%(contacts)s AS text[]) IS NULL OR contact_key = ANY(CAST(%(contacts)s AS text[])))
GROUP BY tenant_id, contact_key
