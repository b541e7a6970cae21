-- Account linking (issue 4): the Microsoft app registration entered in the admin UI, each Jira
-- instance's OAuth 2.0 incoming-link client, sign-in flows in progress, the members a chat was
-- created with, and a lease that serialises token refreshes across daemons.

-- One row: values pinned in config.toml win over these (the admin page shows them read-only).
CREATE TABLE microsoft_app (
    id                   uuid PRIMARY KEY,
    singleton            boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    cloud                text NOT NULL CHECK (cloud IN ('global', 'usgov', 'usgovdod', 'china')),
    tenant_id            text NOT NULL CHECK (tenant_id ~ '^[0-9a-zA-Z.-]{1,253}$'
                                              AND lower(tenant_id) NOT IN ('common', 'consumers', 'organizations')),
    client_id            uuid NOT NULL,
    client_secret        bytea CHECK (client_secret IS NULL OR octet_length(client_secret) >= 32),
    bot_app_id           uuid,
    teams_app_catalog_id text CHECK (teams_app_catalog_id IS NULL OR teams_app_catalog_id ~ '^[0-9a-zA-Z-]{1,64}$'),
    updated_by           text NOT NULL CHECK (char_length(updated_by) BETWEEN 1 AND 255),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE jira_instance
    ADD COLUMN oauth_client_id     text CHECK (oauth_client_id IS NULL OR oauth_client_id ~ '^[[:graph:]]{1,255}$'),
    ADD COLUMN oauth_client_secret bytea CHECK (oauth_client_secret IS NULL OR octet_length(oauth_client_secret) >= 32),
    ADD CONSTRAINT jira_instance_oauth_pair CHECK ((oauth_client_id IS NULL) = (oauth_client_secret IS NULL));

-- A sign-in started from a link the Jira app got from GET /api/v1/me. The link is single use
-- (start_hash), the browser that opened it is bound by a cookie (browser_hash), and each OAuth
-- leg has its own single-use state. Microsoft tokens wait here (encrypted) until the Jira leg
-- proves the browser's Jira user is the one the link was made for.
CREATE TABLE sign_in_flow (
    id                  uuid PRIMARY KEY,
    jira_instance_id    uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    jira_user_key       text NOT NULL CHECK (char_length(jira_user_key) BETWEEN 1 AND 255),
    start_hash          bytea NOT NULL UNIQUE CHECK (octet_length(start_hash) = 32),
    browser_hash        bytea NOT NULL CHECK (octet_length(browser_hash) = 32),
    state_hash          bytea UNIQUE CHECK (state_hash IS NULL OR octet_length(state_hash) = 32),
    stage               text NOT NULL CHECK (stage IN ('microsoft', 'jira', 'done', 'failed')),
    pkce_verifier       text CHECK (pkce_verifier IS NULL OR pkce_verifier ~ '^[A-Za-z0-9._~-]{43,128}$'),
    nonce               text CHECK (nonce IS NULL OR char_length(nonce) <= 128),
    ms_tenant_id        uuid,
    ms_user_id          uuid,
    ms_token            bytea CHECK (ms_token IS NULL OR octet_length(ms_token) >= 32),
    ms_refresh_token    bytea CHECK (ms_refresh_token IS NULL OR octet_length(ms_refresh_token) >= 32),
    ms_expires_at       timestamptz,
    ms_user_name        text CHECK (ms_user_name IS NULL OR char_length(ms_user_name) <= 255),
    expires_at          timestamptz NOT NULL
);
CREATE INDEX sign_in_flow_expiry_idx ON sign_in_flow (expires_at);

-- Microsoft users a chat was created with (what the appliance knows of its members).
CREATE TABLE issue_chat_member (
    issue_chat_id uuid NOT NULL REFERENCES issue_chat (id) ON DELETE CASCADE,
    ms_user_id    uuid NOT NULL,
    PRIMARY KEY (issue_chat_id, ms_user_id)
);

ALTER TABLE access_token ADD COLUMN refresh_lease_until timestamptz;
ALTER TABLE user_mapping
    ADD COLUMN ms_user_name   text CHECK (ms_user_name IS NULL OR char_length(ms_user_name) <= 255),
    ADD COLUMN jira_user_name text CHECK (jira_user_name IS NULL OR char_length(jira_user_name) <= 255),
    ADD COLUMN status_detail  text CHECK (status_detail IS NULL OR char_length(status_detail) <= 255);
