-- Jira DC sends two webhooks for one comment deletion: `comment_deleted`, naming the comment but
-- not its issue, and `jira:issue_updated` with `issue_comment_deleted`, naming the issue but not
-- the comment. To tell which comment the second one removed, the intake compares the issue's
-- remaining comments with the comments that have cards: `deleted` marks a card that already
-- shows its comment's deletion, and the index serves that lookup by issue.
ALTER TABLE posted_card ADD COLUMN deleted boolean NOT NULL DEFAULT false;
CREATE INDEX posted_card_issue_idx ON posted_card (jira_instance_id, issue_id);
DROP INDEX posted_card_instance_idx;
