CREATE INDEX posted_card_instance_idx ON posted_card (jira_instance_id);
DROP INDEX posted_card_issue_idx;
ALTER TABLE posted_card DROP COLUMN deleted;
