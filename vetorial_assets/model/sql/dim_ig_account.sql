-- Upsert model.dim_ig_account for one Instagram account (tenant from tenants.yaml; '-1'
-- inferred when no tenant lists it). Params: tenant_id, ig_account_id, is_inferred.
INSERT INTO model.dim_ig_account AS d (ig_account_id, tenant_id, is_inferred)
VALUES (%(ig_account_id)s, %(tenant_id)s, %(is_inferred)s)
ON CONFLICT (ig_account_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, is_inferred = EXCLUDED.is_inferred
WHERE (d.tenant_id, d.is_inferred) IS DISTINCT FROM (EXCLUDED.tenant_id, EXCLUDED.is_inferred)
