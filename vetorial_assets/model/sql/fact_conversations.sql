-- fact_conversations of one tenant's days, from staging.conversations (one row per
-- conversation; deleted ones kept, flagged). A yes/no the source left unknown counts as no.
SELECT conversation_id, tenant_id, conversation_date, inbox_id, contact_key, channel_type, status,
       coalesce(status = 'resolved', false) AS is_resolved, assignee_id, labels, created_at, first_response_at,
       first_reply_seconds, message_count,
       coalesce(is_lead, false) AS is_lead, coalesce(visit_scheduled, false) AS visit_scheduled,
       coalesce(crm_converted, false) AS crm_converted,
       ai_probability_label, ai_probability_score, is_deleted
FROM staging.conversations
WHERE tenant_id = %(tenant)s AND conversation_date BETWEEN %(first)s AND %(last)s
