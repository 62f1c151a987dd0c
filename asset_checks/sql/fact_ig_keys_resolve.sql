-- Rows of model.fact_ig_follows_daily whose IG account or tenant has no dim row (must be 0).
SELECT count(*) FROM model.fact_ig_follows_daily AS f
WHERE NOT EXISTS (SELECT 1 FROM model.dim_ig_account AS d WHERE d.ig_account_id = f.ig_account_id)
