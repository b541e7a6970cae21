-- The audit is append-only, so rows with the newer outcomes stay: the narrower check applies
-- to new rows only (NOT VALID skips the existing ones).
ALTER TABLE secret_access_audit DROP CONSTRAINT secret_access_audit_outcome_check;
ALTER TABLE secret_access_audit ADD CONSTRAINT secret_access_audit_outcome_check
    CHECK (outcome IN ('ok', 'failed', 'missing')) NOT VALID;
