-- Upsert model.dim_placement with the placements of one ad account seen in a day range.
-- Params: account_id, first, last.
INSERT INTO model.dim_placement AS d (platform, position, platform_label, is_facebook, is_instagram, is_inferred)
SELECT DISTINCT s.plataforma, s.posicionamento,
       CASE s.plataforma WHEN 'facebook' THEN 'Facebook' WHEN 'instagram' THEN 'Instagram'
                         WHEN 'audience_network' THEN 'Audience Network' WHEN 'messenger' THEN 'Messenger'
                         WHEN 'threads' THEN 'Threads' ELSE initcap(replace(s.plataforma, '_', ' ')) END,
       s.plataforma = 'facebook',
       s.plataforma = 'instagram',
       false
FROM staging.insights_meta_ads AS s
WHERE s.account_id = %(account_id)s
  AND s.data BETWEEN %(first)s AND %(last)s
ON CONFLICT (platform, position) DO NOTHING
