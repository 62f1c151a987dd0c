-- The change ledger (issue 13): statement-level triggers with transition tables record the
-- (scope, day) units every write touches in ops.changed_days (created by create_all, like
-- ops.ledger_cursors). Warehouses created from now on get the function and the triggers
-- with their tables (warehouse/tables/ledger.py); this brings older ones there. Every
-- statement is idempotent (CREATE OR REPLACE, PostgreSQL 14+).
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

CREATE OR REPLACE TRIGGER changed_days_insert AFTER INSERT ON staging.insights_meta_ads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.record_changed_days('account_id', 'data');
CREATE OR REPLACE TRIGGER changed_days_update AFTER UPDATE ON staging.insights_meta_ads
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('account_id', 'data');
CREATE OR REPLACE TRIGGER changed_days_delete AFTER DELETE ON staging.insights_meta_ads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ops.record_changed_days('account_id', 'data');

CREATE OR REPLACE TRIGGER changed_days_insert AFTER INSERT ON raw.ig_follows
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('ig_account_id', 'data_registro');
CREATE OR REPLACE TRIGGER changed_days_update AFTER UPDATE ON raw.ig_follows
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('ig_account_id', 'data_registro');
CREATE OR REPLACE TRIGGER changed_days_delete AFTER DELETE ON raw.ig_follows
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('ig_account_id', 'data_registro');

CREATE OR REPLACE TRIGGER changed_days_insert AFTER INSERT ON raw.conversas_analytics
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('tenant_id', 'conversation_date', 'conversation_updated_at');
CREATE OR REPLACE TRIGGER changed_days_update AFTER UPDATE ON raw.conversas_analytics
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('tenant_id', 'conversation_date', 'conversation_updated_at');
CREATE OR REPLACE TRIGGER changed_days_delete AFTER DELETE ON raw.conversas_analytics
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ops.record_changed_days('tenant_id', 'conversation_date', 'conversation_updated_at');
