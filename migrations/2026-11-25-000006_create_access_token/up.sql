-- User-based and app-based tokens for Microsoft and Jira; token columns are vault ciphertexts.
CREATE TABLE access_token (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('microsoft_user', 'jira_user', 'microsoft_app', 'bot_connector', 'jira_app')),
    jira_instance_id uuid REFERENCES jira_instance (id) ON DELETE CASCADE,
    user_mapping_id  uuid REFERENCES user_mapping (id) ON DELETE CASCADE,
    ms_tenant_id     uuid,
    scopes           text NOT NULL DEFAULT '' CHECK (char_length(scopes) <= 4096),
    token            bytea NOT NULL CHECK (octet_length(token) >= 32),
    refresh_token    bytea CHECK (refresh_token IS NULL OR octet_length(refresh_token) >= 32),
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- user tokens belong to a user mapping; app tokens to a tenant
    CHECK ((kind IN ('microsoft_user', 'jira_user')) = (user_mapping_id IS NOT NULL)),
    CHECK (kind <> 'jira_user' OR jira_instance_id IS NOT NULL),
    CHECK (kind NOT IN ('microsoft_app', 'bot_connector') OR ms_tenant_id IS NOT NULL),
    CHECK (kind <> 'jira_app' OR jira_instance_id IS NOT NULL)
);
CREATE UNIQUE INDEX access_token_user_key ON access_token (kind, user_mapping_id) WHERE user_mapping_id IS NOT NULL;
CREATE UNIQUE INDEX access_token_app_key ON access_token (kind, ms_tenant_id) WHERE user_mapping_id IS NULL AND kind <> 'jira_app';
CREATE UNIQUE INDEX access_token_jira_app_key ON access_token (jira_instance_id) WHERE kind = 'jira_app';
