-- How the connected role could write to the source relation or to what it reads from:
-- superuser, or INSERT/UPDATE/DELETE/TRUNCATE on the relation and, through views (recursively),
-- every relation their rules read. One row per relation this role may write (none: read-only).
WITH RECURSIVE reads(oid) AS (
    SELECT %(relation_oid)s::oid
    UNION
    SELECT d.refobjid
    FROM reads
    JOIN pg_rewrite r ON r.ev_class = reads.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> reads.oid
)
SELECT c.oid::regclass::text AS relation,
       array_remove(ARRAY[
           CASE WHEN has_table_privilege(c.oid, 'INSERT') THEN 'INSERT' END,
           CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,
           CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END,
           CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'TRUNCATE' END], NULL) AS privileges,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
FROM reads
JOIN pg_class c ON c.oid = reads.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY 1
