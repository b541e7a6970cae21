ALTER TABLE user_mapping DROP COLUMN status_detail, DROP COLUMN jira_user_name, DROP COLUMN ms_user_name;
ALTER TABLE access_token DROP COLUMN refresh_lease_until;
DROP TABLE issue_chat_member;
DROP TABLE sign_in_flow;
ALTER TABLE jira_instance DROP CONSTRAINT jira_instance_oauth_pair,
    DROP COLUMN oauth_client_secret, DROP COLUMN oauth_client_id;
DROP TABLE microsoft_app;
