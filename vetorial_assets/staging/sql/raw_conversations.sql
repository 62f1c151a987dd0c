-- The raw rows of one tenant behind staging.conversations: all of them (days NULL) or
-- those of the given local days (the ledger's day: creation date, else update date).
SELECT conversation_id, tenant_id, account_id, inbox_id, inbox_name, channel_type, contact_phone, contact_email,
       status, assignee_id, labels, conversation_created_at, conversation_updated_at, first_response_at,
       message_count, is_lead, visit_scheduled, crm_converted, ai_probability_label, ai_probability_score,
       coalesce(conversation_date, (conversation_updated_at AT TIME ZONE 'America/Sao_Paulo')::date)
           AS conversation_date,
       deleted_at
FROM raw.conversas_analytics
WHERE tenant_id = %(tenant)s
  AND (CAST(%(days)s AS date[]) IS NULL
       OR coalesce(conversation_date, (conversation_updated_at AT TIME ZONE 'America/Sao_Paulo')::date)
          = ANY(CAST(%(days)s AS date[])))
