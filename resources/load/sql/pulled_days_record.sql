-- The days of a range this pull applied: when it began, and which run. A day a later pull
-- already holds keeps that pull's record (its rows were left as they are).
INSERT INTO ops.pulled_days AS p (source, partition, day, pulled_at, run_id)
SELECT %(source)s, %(partition)s, CAST(d AS date), %(pulled_at)s, %(run_id)s
FROM generate_series(CAST(%(first)s AS date), CAST(%(last)s AS date), interval '1 day') AS d
ON CONFLICT (source, partition, day) DO UPDATE
    SET pulled_at = EXCLUDED.pulled_at, run_id = EXCLUDED.run_id, applied_at = now()
    WHERE p.pulled_at < EXCLUDED.pulled_at
