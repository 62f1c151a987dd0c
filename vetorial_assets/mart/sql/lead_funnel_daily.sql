-- lead_funnel_daily of one tenant's days: Meta spend and ad leads (model.fact_ad_insights_daily)
-- joined with the conversations started that day (model.fact_conversations, deleted ones
-- left out). A day with either side only still has its row. Cost per step = spend / step;
-- step rate = step / previous step; NULL when the denominator is 0.
WITH ads AS (
    SELECT tenant_id, date AS day, sum(spend) AS spend, sum(leads_total) AS ad_leads
    FROM model.fact_ad_insights_daily
    WHERE tenant_id = %(tenant)s AND date BETWEEN %(first)s AND %(last)s
    GROUP BY 1, 2
), conv AS (
    SELECT tenant_id, conversation_date AS day, count(*) AS conversations_started,
           count(*) FILTER (WHERE is_lead) AS qualified_leads,
           count(*) FILTER (WHERE visit_scheduled) AS visits_scheduled,
           count(*) FILTER (WHERE crm_converted) AS crm_conversions
    FROM model.fact_conversations
    WHERE tenant_id = %(tenant)s AND conversation_date BETWEEN %(first)s AND %(last)s AND NOT is_deleted
    GROUP BY 1, 2
), funnel AS (
    SELECT coalesce(a.tenant_id, c.tenant_id) AS tenant_id, coalesce(a.day, c.day) AS day,
           coalesce(a.spend, 0) AS spend, coalesce(a.ad_leads, 0) AS ad_leads,
           coalesce(c.conversations_started, 0) AS conversations_started,
           coalesce(c.qualified_leads, 0) AS qualified_leads, coalesce(c.visits_scheduled, 0) AS visits_scheduled,
           coalesce(c.crm_conversions, 0) AS crm_conversions
    FROM ads AS a FULL JOIN conv AS c ON c.tenant_id = a.tenant_id AND c.day = a.day
)
SELECT tenant_id, day, spend, ad_leads, conversations_started, qualified_leads, visits_scheduled, crm_conversions,
       round(spend / NULLIF(ad_leads, 0), 2) AS cost_per_ad_lead,
       round(spend / NULLIF(conversations_started, 0), 2) AS cost_per_conversation,
       round(spend / NULLIF(qualified_leads, 0), 2) AS cost_per_qualified_lead,
       round(spend / NULLIF(visits_scheduled, 0), 2) AS cost_per_visit,
       round(spend / NULLIF(crm_conversions, 0), 2) AS cost_per_conversion,
       round(conversations_started::numeric / NULLIF(ad_leads, 0), 4) AS conversation_rate,
       round(qualified_leads::numeric / NULLIF(conversations_started, 0), 4) AS qualification_rate,
       round(visits_scheduled::numeric / NULLIF(qualified_leads, 0), 4) AS visit_rate,
       round(crm_conversions::numeric / NULLIF(visits_scheduled, 0), 4) AS conversion_rate
FROM funnel
