-- Jira webhooks authenticate with an HMAC secret (webhook_secret, encrypted) or, for Jira
-- versions that cannot sign, a random token in the URL; only its SHA-256 is stored.
ALTER TABLE jira_instance
    ADD COLUMN webhook_token_hash bytea CHECK (webhook_token_hash IS NULL OR octet_length(webhook_token_hash) = 32);
