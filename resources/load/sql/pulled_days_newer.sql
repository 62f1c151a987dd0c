-- Days of a pulled range whose stored rows come from a pull that began after this one
-- (applied by another run meanwhile): this pull leaves them as they are.
SELECT day
FROM ops.pulled_days
WHERE source = %(source)s AND partition = %(partition)s
  AND day BETWEEN %(first)s AND %(last)s
  AND pulled_at > %(pulled_at)s
ORDER BY day
