-- One append-only row per read (decryption) of a secret. Triggers refuse UPDATE, DELETE, TRUNCATE.
CREATE TABLE secret_access_audit (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind   text NOT NULL CHECK (actor_kind IN ('admin', 'api', 'job', 'cli', 'system')),
    actor        text NOT NULL CHECK (char_length(actor) <= 255),
    secret_kind  text NOT NULL CHECK (secret_kind ~ '^[a-z_]{1,64}$'),
    secret_table text NOT NULL CHECK (secret_table ~ '^[a-z_]{1,64}$'),
    secret_row   uuid NOT NULL,
    secret_label text NOT NULL DEFAULT '' CHECK (char_length(secret_label) <= 255),
    purpose      text NOT NULL CHECK (char_length(purpose) BETWEEN 1 AND 255),
    outcome      text NOT NULL CHECK (outcome IN ('ok', 'failed', 'missing')),
    detail       text CHECK (char_length(detail) <= 1024)
);
CREATE INDEX secret_access_audit_row_idx ON secret_access_audit (secret_row, id DESC);
CREATE INDEX secret_access_audit_kind_idx ON secret_access_audit (secret_kind, id DESC);

CREATE FUNCTION secret_access_audit_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'secret_access_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER secret_access_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON secret_access_audit
    FOR EACH ROW EXECUTE FUNCTION secret_access_audit_is_append_only();
CREATE TRIGGER secret_access_audit_no_truncate
    BEFORE TRUNCATE ON secret_access_audit
    FOR EACH STATEMENT EXECUTE FUNCTION secret_access_audit_is_append_only();
