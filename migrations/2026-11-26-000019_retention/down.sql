DROP INDEX outbox_finished_idx;
DROP INDEX secret_access_audit_at_idx;
CREATE OR REPLACE FUNCTION secret_access_audit_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'secret_access_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
