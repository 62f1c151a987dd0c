-- conversation_growth_monthly of one tenant's months (first and last: first days of
-- months), each with the month before for its growth. Deleted conversations left out.
-- growth_pct is NULL when the month before had no conversation (never 0, never an error).
WITH monthly AS (
    SELECT tenant_id, date_trunc('month', conversation_date)::date AS month,
           count(*) AS conversations, count(DISTINCT contact_key) AS unique_contacts,
           count(*) FILTER (WHERE is_lead) AS leads, count(*) FILTER (WHERE crm_converted) AS crm_conversions
    FROM model.fact_conversations
    WHERE tenant_id = %(tenant)s AND NOT is_deleted
      AND conversation_date >= CAST(%(first)s AS date) - interval '1 month'
      AND date_trunc('month', conversation_date)::date <= %(last)s
    GROUP BY 1, 2
)
SELECT m.tenant_id, m.month, m.conversations, m.unique_contacts, m.leads, m.crm_conversions,
       coalesce(p.conversations, 0) AS prev_month_conversations,
       round((m.conversations - coalesce(p.conversations, 0)) * 100.0 / NULLIF(p.conversations, 0), 2) AS growth_pct
FROM monthly AS m
LEFT JOIN monthly AS p ON p.month = (m.month - interval '1 month')::date
WHERE m.month >= %(first)s
