-- A secret an admin types for one request and the appliance never stores (a Jira
-- administrator's personal access token, used to register the webhook) is audited too:
-- `used_not_stored` when it was sent, `refused` when Jira refused it.
ALTER TABLE secret_access_audit DROP CONSTRAINT secret_access_audit_outcome_check;
ALTER TABLE secret_access_audit ADD CONSTRAINT secret_access_audit_outcome_check
    CHECK (outcome IN ('ok', 'failed', 'missing', 'used_not_stored', 'refused'));
