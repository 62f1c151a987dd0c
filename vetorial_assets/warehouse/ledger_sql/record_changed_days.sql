-- The change ledger's trigger function (current form; migration 0010 created it first).
-- Written twice on purpose: a fresh warehouse creates it from here with its tracked tables (tables/ledger.py), while migrations are frozen history; a change goes here and into a new migration.
-- Statement-level, with transition tables: one row per distinct (scope, day) the statement
-- touched lands in ops.changed_days in the statement's own transaction, whatever wrote
-- the rows (COPY, MERGE, INSERT ... ON CONFLICT, an operator's UPDATE). An UPDATE records
-- the old and the new day; an unchanged row is never written by the loader, so it records
-- nothing.
-- Arguments: the scope column, the day column and, optionally, a timestamptz column whose
-- local (America/Sao_Paulo) date stands in for a NULL day. Rows with no day at all are not
-- recorded (a trigger must never fail a load).
CREATE OR REPLACE FUNCTION ops.record_changed_days() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    -- quote_ident, not format(): the migration runner sends this text with parameters, and
    -- a percent sign would read as a placeholder there.
    day_expr text := CASE WHEN TG_NARGS > 2
        THEN 'coalesce(' || quote_ident(TG_ARGV[1]) || ', (' || quote_ident(TG_ARGV[2])
             || ' AT TIME ZONE ''America/Sao_Paulo'')::date)'
        ELSE quote_ident(TG_ARGV[1]) END;
    picked text := 'SELECT CAST(' || quote_ident(TG_ARGV[0]) || ' AS text), ' || day_expr;
    new_part text := picked || ' FROM new_rows';
    old_part text := picked || ' FROM old_rows';
    touched text;
BEGIN
    touched := CASE TG_OP
        WHEN 'INSERT' THEN new_part
        WHEN 'DELETE' THEN old_part
        ELSE new_part || ' UNION ' || old_part END;
    EXECUTE 'INSERT INTO ops.changed_days (table_name, scope, day) SELECT DISTINCT $1, c.scope, c.day FROM ('
            || touched || ') AS c(scope, day) WHERE c.scope IS NOT NULL AND c.day IS NOT NULL'
        USING TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
    RETURN NULL;
END
$fn$;
