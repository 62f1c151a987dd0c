-- The contacts whose first or last date a change of these days can move: those with a
-- conversation on them now, and those whose stored first or last date is one of them
-- (their conversation there may have gone).
SELECT contact_key FROM staging.conversations
WHERE tenant_id = %(tenant)s AND conversation_date BETWEEN %(first)s AND %(last)s AND contact_key IS NOT NULL
UNION
SELECT contact_key FROM model.dim_contact
WHERE tenant_id = %(tenant)s
  AND (first_seen_date BETWEEN %(first)s AND %(last)s OR last_seen_date BETWEEN %(first)s AND %(last)s)
