-- Columns copied from a source accept every value of the source field's type (issue
-- "source values the warehouse cannot hold"): a 0-100 AI score overflowed numeric(6,4),
-- a count past 2^31 wrapped in integer, spend past numeric(14,2) failed a whole range.
-- Audit counters of ops.etl_control get the same room (a tenant's rows may pass 2^31).
--
-- integer -> bigint rewrites the table and its indexes under an ACCESS EXCLUSIVE lock
-- (raw.conversas_analytics at 1,000,000 rows: seconds; readers wait meanwhile). Dropping a
-- numeric typmod changes no stored byte: no rewrite. On a table that already has these
-- types (created by create_all in this same pass) every statement below is a no-op.
DROP VIEW IF EXISTS ops.vw_etl_stats;  -- depends on the counters; re-created after the migrations

ALTER TABLE raw.conversas_analytics
    ALTER COLUMN message_count TYPE bigint,
    ALTER COLUMN ai_probability_score TYPE numeric;

ALTER TABLE raw.ig_follows
    ALTER COLUMN follows TYPE bigint,
    ALTER COLUMN unfollows TYPE bigint,
    ALTER COLUMN net TYPE bigint;

ALTER TABLE staging.insights_meta_ads
    ALTER COLUMN valor_gasto TYPE numeric;

ALTER TABLE ops.etl_control
    ALTER COLUMN rows_extracted TYPE bigint,
    ALTER COLUMN rows_inserted TYPE bigint,
    ALTER COLUMN rows_updated TYPE bigint,
    ALTER COLUMN rows_unchanged TYPE bigint,
    ALTER COLUMN rows_deleted TYPE bigint,
    ALTER COLUMN duration_seconds TYPE numeric;
