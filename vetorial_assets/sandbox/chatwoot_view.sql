-- vw_conversations_analytics_final: one row per Chatwoot conversation, the relation the
-- ETL extracts (the AllpFit v3 ETL read a view of this name). Contract choices:
--
-- * Timestamps are timestamptz. Chatwoot stores UTC in `timestamp without time zone`;
--   `AT TIME ZONE 'UTC'` states that once here, so no reader can misread them in its
--   session time zone. The conversations index on (account_id, updated_at AT TIME ZONE
--   'UTC') serves the watermark filter and the max() probe through this expression.
-- * labels is text[] (empty array when none), in the order Chatwoot caches them in
--   conversations.cached_label_list ("a, b"), which acts-as-taggable-on rewrites on each
--   save together with updated_at; reading it avoids a join on taggings per row.
-- * status is the text of Chatwoot's enum (0 open, 1 resolved, 2 pending, 3 snoozed).
-- * message_count counts non-activity messages (incoming, outgoing, template). It is a
--   scalar subquery on Chatwoot's (conversation_id, account_id, message_type, created_at)
--   index: an index-only lookup per row when selected, and free when a query does not
--   select it (the planner drops unreferenced view columns; the key and watermark probes
--   never pay for it). A new message alone does not bump conversations.updated_at in
--   Chatwoot (it writes last_activity_at with update_columns): conversation_last_activity_at
--   is exposed so the ETL can reason about that lag.
-- * is_lead / visit_scheduled / crm_converted: true when the conversation custom attribute
--   of that name is truthy ('true', '1', 'sim', 'yes', JSON true) or the conversation carries
--   the label 'lead' / 'visita-agendada' / 'convertido-crm'. ai_probability_label/score come
--   from custom attributes of those names; a score that is not a number reads as NULL
--   instead of failing the whole extraction.
DROP VIEW IF EXISTS vw_conversations_analytics_final;
CREATE VIEW vw_conversations_analytics_final AS
SELECT
    c.id                                           AS conversation_id,
    c.account_id,
    c.inbox_id,
    i.name                                         AS inbox_name,
    i.channel_type,
    c.contact_id,
    ct.name                                        AS contact_name,
    ct.phone_number                                AS contact_phone,
    ct.email                                       AS contact_email,
    CASE c.status
        WHEN 0 THEN 'open'
        WHEN 1 THEN 'resolved'
        WHEN 2 THEN 'pending'
        WHEN 3 THEN 'snoozed'
        ELSE c.status::text
    END                                            AS status,
    c.assignee_id,
    COALESCE(string_to_array(c.cached_label_list, ', '), '{}'::text[]) AS labels,
    c.created_at AT TIME ZONE 'UTC'                AS conversation_created_at,
    c.updated_at AT TIME ZONE 'UTC'                AS conversation_updated_at,
    c.first_reply_created_at AT TIME ZONE 'UTC'    AS first_response_at,
    (SELECT count(*)
       FROM messages m
      WHERE m.conversation_id = c.id
        AND m.account_id = c.account_id
        AND m.message_type <> 2)::integer          AS message_count,
    (COALESCE(lower(c.custom_attributes ->> 'is_lead') IN ('true', '1', 'sim', 'yes'), false)
        OR 'lead' = ANY (string_to_array(c.cached_label_list, ', ')))
        IS TRUE                                    AS is_lead,
    (COALESCE(lower(c.custom_attributes ->> 'visit_scheduled') IN ('true', '1', 'sim', 'yes'), false)
        OR 'visita-agendada' = ANY (string_to_array(c.cached_label_list, ', ')))
        IS TRUE                                    AS visit_scheduled,
    (COALESCE(lower(c.custom_attributes ->> 'crm_converted') IN ('true', '1', 'sim', 'yes'), false)
        OR 'convertido-crm' = ANY (string_to_array(c.cached_label_list, ', ')))
        IS TRUE                                    AS crm_converted,
    c.custom_attributes ->> 'ai_probability_label' AS ai_probability_label,
    CASE WHEN c.custom_attributes ->> 'ai_probability_score' ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$'
         THEN (c.custom_attributes ->> 'ai_probability_score')::numeric
    END                                            AS ai_probability_score,
    c.display_id,
    c.last_activity_at AT TIME ZONE 'UTC'          AS conversation_last_activity_at
FROM conversations c
LEFT JOIN inboxes i ON i.id = c.inbox_id
LEFT JOIN contacts ct ON ct.id = c.contact_id;
