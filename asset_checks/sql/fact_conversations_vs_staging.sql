-- Rows and live (not deleted) rows of staging.conversations and model.fact_conversations (one
-- scan of each table).
SELECT s.n, f.n, s.live, f.live
FROM (SELECT count(*) AS n, count(*) FILTER (WHERE NOT is_deleted) AS live FROM staging.conversations) AS s,
     (SELECT count(*) AS n, count(*) FILTER (WHERE NOT is_deleted) AS live FROM model.fact_conversations) AS f
