-- The unknown members ('-1', '(desconhecido)') every dim of the Meta star holds, for fact
-- rows whose campaign or ad set id is missing. Inserted once; never rewritten.
INSERT INTO model.dim_tenant (tenant_id, tenant_name, meta_ad_accounts, instagram_accounts, has_chatwoot, is_inferred)
VALUES ('-1', '(desconhecido)', 0, 0, false, true) ON CONFLICT DO NOTHING;
INSERT INTO model.dim_campaign (campaign_id, account_id, tenant_id, campaign_name, name_date, is_inferred)
VALUES ('-1', '-1', '-1', '(desconhecido)', NULL, true) ON CONFLICT DO NOTHING;
INSERT INTO model.dim_adset (adset_id, campaign_id, account_id, tenant_id, adset_name, name_date, is_inferred)
VALUES ('-1', '-1', '-1', '-1', '(desconhecido)', NULL, true) ON CONFLICT DO NOTHING;
