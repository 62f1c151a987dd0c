-- Rows of one account range that break the staging rules: negative metrics, or lead
-- origins that do not add up to the total.
SELECT
    count(*) FILTER (WHERE valor_gasto < 0 OR impressoes < 0 OR alcance < 0 OR cliques < 0
                       OR leads_total < 0 OR seguidores_instagram < 0) AS negative_rows,
    count(*) FILTER (WHERE leads_formulario + leads_site + leads_mensagem <> leads_total) AS leads_mismatch_rows
FROM staging.insights_meta_ads
WHERE account_id = %(account_id)s AND data BETWEEN %(first)s AND %(last)s
