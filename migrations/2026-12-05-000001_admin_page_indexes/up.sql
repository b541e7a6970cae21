-- The sort keys of the admin pages, so every page is an index range read whatever the tables
-- hold (keyset paging: `(a, b) < (last shown)` ORDER BY a DESC, b DESC LIMIT 51).

-- /admin/outbox: failed deliveries, most recently failed first; items waiting for a retry,
-- next try first (without walking the whole pending backlog to find them)
CREATE INDEX outbox_dead_updated_idx ON outbox (updated_at, id) WHERE status = 'dead';
CREATE INDEX outbox_retrying_idx ON outbox (run_after, id)
    WHERE status = 'pending' AND last_error IS NOT NULL;

-- /admin/users: most recently changed first
CREATE INDEX user_mapping_updated_idx ON user_mapping (updated_at, id);

-- /admin/data/{entity}: each table in its display order
CREATE INDEX user_mapping_created_idx ON user_mapping (created_at, id);
CREATE INDEX issue_chat_created_idx ON issue_chat (created_at, id);
CREATE INDEX shared_chat_access_updated_idx ON shared_chat_access (updated_at, id);
CREATE INDEX jira_instance_created_idx ON jira_instance (created_at, id);
CREATE INDEX bot_membership_updated_idx ON bot_membership (updated_at, id);
CREATE INDEX jsm_portal_app_updated_idx ON jsm_portal_app (updated_at, id);
CREATE INDEX teams_user_setting_updated_idx ON teams_user_setting (updated_at, teams_user_id);
CREATE INDEX access_token_updated_idx ON access_token (updated_at, id);
CREATE INDEX jira_user_session_created_idx ON jira_user_session (created_at, id);
-- replaces sign_in_flow_expiry_idx (expires_at): the pruning of expired flows reads this one
CREATE INDEX sign_in_flow_expires_id_idx ON sign_in_flow (expires_at, id);
DROP INDEX sign_in_flow_expiry_idx;
-- secret_access_audit: its primary key and (secret_row, id DESC), (secret_kind, id DESC)
-- already match the audit page's orders; instance_setting: its (jira_instance_id, name) key.
