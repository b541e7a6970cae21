ALTER TABLE jira_instance DROP COLUMN webhook_token_hash;
