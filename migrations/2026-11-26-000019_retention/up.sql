-- Retention (issue 6): the secret access audit stays append-only, except that rows older than
-- the retention horizon may be deleted through one controlled path: the transaction sets
-- `jtb.audit_retention_days` (SET LOCAL / set_config(..., true)) and only rows older than that
-- many days go; the horizon can never be shorter than 30 days. UPDATE and TRUNCATE stay refused.
-- This guards against bugs and injected SQL in the daemon; the table's owner can still drop
-- the trigger, as with any trigger.
CREATE OR REPLACE FUNCTION secret_access_audit_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    horizon_days integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        BEGIN
            horizon_days := nullif(current_setting('jtb.audit_retention_days', true), '')::integer;
        EXCEPTION WHEN invalid_text_representation THEN
            horizon_days := NULL;
        END;
        IF horizon_days IS NOT NULL AND horizon_days >= 30
           AND OLD.at < now() - make_interval(days => horizon_days) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'secret_access_audit is append-only: DELETE refused (only rows older than the retention horizon may be pruned)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'secret_access_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- pruning walks the table by age
CREATE INDEX secret_access_audit_at_idx ON secret_access_audit (at);
-- pruning delivered/dead outbox rows walks them by age
CREATE INDEX outbox_finished_idx ON outbox (updated_at) WHERE status IN ('done', 'dead');
