-- Jira users without a plugin (shared/design/JIRA-SURFACE.md): their sessions, what the
-- appliance shows of a linked chat in the Jira issue (its remote link), and the per-instance
-- switches of those remote links.

-- A Jira user signed in with Jira on the appliance's own pages. Stored here so every daemon
-- accepts it; the Jira token is encrypted like every other token. The cookie holds a random
-- token whose hash is `token_hash`.
CREATE TABLE jira_user_session (
    id               uuid PRIMARY KEY,
    token_hash       bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    jira_user_key    text NOT NULL CHECK (char_length(jira_user_key) BETWEEN 1 AND 255),
    jira_user_name   text NOT NULL CHECK (char_length(jira_user_name) <= 255),
    access_token     bytea NOT NULL CHECK (octet_length(access_token) >= 32),
    refresh_token    bytea CHECK (refresh_token IS NULL OR octet_length(refresh_token) >= 32),
    token_expires_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX jira_user_session_user_idx ON jira_user_session (jira_instance_id, jira_user_key);
CREATE INDEX jira_user_session_expiry_idx ON jira_user_session (expires_at);

-- A sign-in flow that opens a Jira user session (rather than linking accounts) has a row here:
-- the page under /jira/ it returns to.
CREATE TABLE sign_in_return (
    flow_id   uuid PRIMARY KEY REFERENCES sign_in_flow (id) ON DELETE CASCADE,
    next_path text NOT NULL CHECK (next_path LIKE '/jira/%' AND char_length(next_path) <= 1024)
);

-- What a linked chat shows: its Teams topic and Graph webUrl, whether Teams or Jira say it or
-- its issue is gone, and the state of its remote link in the Jira issue (each change bumps
-- `remote_link_version`, which names the outbox row that writes it).
ALTER TABLE issue_chat
    ADD COLUMN topic               text CHECK (topic IS NULL OR char_length(topic) <= 255),
    ADD COLUMN web_url             text CHECK (web_url IS NULL OR (web_url LIKE 'https://%' AND char_length(web_url) <= 2048)),
    ADD COLUMN chat_gone           boolean NOT NULL DEFAULT false,
    ADD COLUMN issue_deleted       boolean NOT NULL DEFAULT false,
    ADD COLUMN remote_link_state   text NOT NULL DEFAULT 'pending'
        CHECK (remote_link_state IN ('pending', 'linked', 'refused', 'needs_sign_in', 'off')),
    ADD COLUMN remote_link_detail  text CHECK (remote_link_detail IS NULL OR char_length(remote_link_detail) <= 1000),
    ADD COLUMN remote_link_version integer NOT NULL DEFAULT 0;

-- The links whose remote link waits for their creator to sign in again (looked up when they do).
CREATE INDEX issue_chat_needs_sign_in_idx ON issue_chat (jira_instance_id, created_by)
    WHERE remote_link_state = 'needs_sign_in';

-- Remote links on (the default) or off (a site that also runs the Jira plugin); a comment
-- "Teams chat started" on each new chat, off by default.
ALTER TABLE jira_instance
    ADD COLUMN remote_links        boolean NOT NULL DEFAULT true,
    ADD COLUMN remote_link_comment boolean NOT NULL DEFAULT false;

-- Before this release only the Jira plugin (through /api/v1) could link chats: an instance that
-- has links runs the plugin, which shows them itself, so its remote links start switched off
-- (switching them on in the admin settings writes them for every existing link).
UPDATE jira_instance SET remote_links = false
 WHERE id IN (SELECT DISTINCT jira_instance_id FROM issue_chat);

-- The walk over an instance's links when remote links are switched back on (keyset by id).
CREATE INDEX issue_chat_instance_id_idx ON issue_chat (jira_instance_id, id);
