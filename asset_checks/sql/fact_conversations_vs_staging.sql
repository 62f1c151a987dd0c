-- Rows and live (not deleted) rows of staging.conversations and model.fact_conversations.
SELECT (SELECT count(*) FROM staging.conversations), (SELECT count(*) FROM model.fact_conversations),
       (SELECT count(*) FROM staging.conversations WHERE NOT is_deleted),
       (SELECT count(*) FROM model.fact_conversations WHERE NOT is_deleted)
