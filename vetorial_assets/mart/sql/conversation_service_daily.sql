-- conversation_service_daily of one tenant's days (tenant x day x inbox; inbox 0: none).
-- Deleted conversations count only in deleted_conversations. First reply: continuous
-- percentiles (percentile_cont: linear interpolation) over the replied conversations.
-- Ratios are NULL when their denominator is 0.
WITH f AS (
    SELECT * FROM model.fact_conversations
    WHERE tenant_id = %(tenant)s AND conversation_date BETWEEN %(first)s AND %(last)s
), labels AS (
    SELECT tenant_id, day, inbox_id, jsonb_object_agg(label, n) AS counts
    FROM (SELECT tenant_id, conversation_date AS day, coalesce(inbox_id, 0) AS inbox_id,
                 coalesce(ai_probability_label, '(sem rótulo)') AS label, count(*) AS n
          FROM f WHERE NOT is_deleted GROUP BY 1, 2, 3, 4) AS per_label
    GROUP BY 1, 2, 3
)
SELECT f.tenant_id, f.conversation_date AS day, coalesce(f.inbox_id, 0) AS inbox_id,
       count(*) FILTER (WHERE NOT f.is_deleted) AS conversations,
       count(DISTINCT f.contact_key) FILTER (WHERE NOT f.is_deleted) AS unique_contacts,
       count(f.first_reply_seconds) FILTER (WHERE NOT f.is_deleted) AS replied_conversations,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.first_reply_seconds) FILTER (WHERE NOT f.is_deleted)
           AS first_reply_median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY f.first_reply_seconds) FILTER (WHERE NOT f.is_deleted)
           AS first_reply_p90_seconds,
       count(*) FILTER (WHERE f.is_resolved AND NOT f.is_deleted) AS resolved_conversations,
       round(count(*) FILTER (WHERE f.is_resolved AND NOT f.is_deleted)::numeric
             / NULLIF(count(*) FILTER (WHERE NOT f.is_deleted), 0), 4) AS resolved_share,
       count(*) FILTER (WHERE f.is_lead AND NOT f.is_deleted) AS leads,
       count(f.ai_probability_score) FILTER (WHERE NOT f.is_deleted) AS ai_scored,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY f.ai_probability_score::float8) FILTER (WHERE NOT f.is_deleted)
           ::numeric AS ai_score_p25,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.ai_probability_score::float8) FILTER (WHERE NOT f.is_deleted)
           ::numeric AS ai_score_median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY f.ai_probability_score::float8) FILTER (WHERE NOT f.is_deleted)
           ::numeric AS ai_score_p75,
       coalesce(min(l.counts::text)::jsonb, '{}'::jsonb) AS ai_label_counts,
       count(*) FILTER (WHERE f.is_deleted) AS deleted_conversations
FROM f
LEFT JOIN labels AS l
       ON l.tenant_id = f.tenant_id AND l.day = f.conversation_date AND l.inbox_id = coalesce(f.inbox_id, 0)
GROUP BY f.tenant_id, f.conversation_date, coalesce(f.inbox_id, 0)
