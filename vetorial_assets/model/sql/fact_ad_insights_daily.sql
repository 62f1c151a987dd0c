-- fact_ad_insights_daily for one ad account and a day range, from staging.insights_meta_ads.
-- Params: tenant_id, account_id, first, last. A missing campaign / ad set id keys the
-- unknown member '-1' (never a dropped row).
SELECT s.hash_id,
       s.data AS date,
       CAST(%(tenant_id)s AS text) AS tenant_id,
       s.account_id,
       coalesce(s.campaign_id, '-1') AS campaign_id,
       coalesce(s.adset_id, '-1') AS adset_id,
       s.ad_id,
       s.plataforma AS platform,
       s.posicionamento AS position,
       s.valor_gasto AS spend,
       s.impressoes AS impressions,
       s.alcance AS reach,
       s.cliques AS clicks,
       s.leads_formulario AS leads_form,
       s.leads_site,
       s.leads_mensagem AS leads_messaging,
       s.leads_total,
       s.seguidores_instagram AS ig_followers
FROM staging.insights_meta_ads AS s
WHERE s.account_id = %(account_id)s
  AND s.data BETWEEN %(first)s AND %(last)s
