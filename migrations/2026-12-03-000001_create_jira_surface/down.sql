DELETE FROM outbox WHERE kind IN ('jira_remote_link', 'jira_remote_link_delete',
                               'jira_remote_link_comment', 'jira_remote_link_resync');
DROP INDEX issue_chat_instance_id_idx;
ALTER TABLE jira_instance DROP COLUMN remote_link_comment, DROP COLUMN remote_links;
ALTER TABLE issue_chat
    DROP COLUMN remote_link_version, DROP COLUMN remote_link_detail, DROP COLUMN remote_link_state,
    DROP COLUMN issue_deleted, DROP COLUMN chat_gone, DROP COLUMN web_url, DROP COLUMN topic;
DELETE FROM sign_in_flow WHERE id IN (SELECT flow_id FROM sign_in_return);
DROP TABLE sign_in_return;
DROP TABLE jira_user_session;
