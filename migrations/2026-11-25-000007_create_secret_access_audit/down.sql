DROP TABLE secret_access_audit;
DROP FUNCTION secret_access_audit_is_append_only();
