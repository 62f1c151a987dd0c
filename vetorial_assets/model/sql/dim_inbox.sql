-- dim_inbox for the inboxes of one tenant's days: the most recent name and channel type
-- among the conversations of those days; an inbox no conversation named yet is an
-- inferred member '(desconhecido)', replaced when a named one arrives (a real name is
-- never replaced by an unknown one). Unchanged rows are not rewritten.
INSERT INTO model.dim_inbox AS d (tenant_id, inbox_id, inbox_name, channel_type, is_inferred)
SELECT DISTINCT ON (s.inbox_id)
       s.tenant_id, s.inbox_id, coalesce(s.inbox_name, %(unknown)s), s.channel_type, s.inbox_name IS NULL
FROM staging.conversations AS s
WHERE s.tenant_id = %(tenant)s AND s.conversation_date BETWEEN %(first)s AND %(last)s AND s.inbox_id IS NOT NULL
ORDER BY s.inbox_id, (s.inbox_name IS NULL), s.updated_at DESC
ON CONFLICT (tenant_id, inbox_id) DO UPDATE
SET inbox_name = excluded.inbox_name, channel_type = excluded.channel_type, is_inferred = excluded.is_inferred
WHERE (d.is_inferred OR NOT excluded.is_inferred)
  AND (d.inbox_name, d.channel_type, d.is_inferred) IS DISTINCT FROM
      (excluded.inbox_name, excluded.channel_type, excluded.is_inferred)
