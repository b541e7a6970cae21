-- Linking a Jira account from Teams (PROTOCOLS.md §6.4). `link` in the bot's 1:1 chat issues a
-- one-time URL (token stored hashed) bound to the Teams user who asked; the browser then runs the
-- same Microsoft + Jira sign-in as a Jira-started link (a sign_in_flow row whose start_hash is
-- this row's token_hash), the Microsoft ID token must name that same Entra user, and the link is
-- committed only when that Teams user (same 29: id) returns the code the page showed. The Jira
-- tokens wait here encrypted; the Microsoft ones wait in the flow.
CREATE TABLE teams_sign_in (
    id                 uuid PRIMARY KEY,
    token_hash         bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    tenant_id          uuid NOT NULL,
    aad_object_id      uuid NOT NULL,
    teams_user_id      text NOT NULL CHECK (teams_user_id ~ '^29:[^[:space:]]+$' AND char_length(teams_user_id) <= 512),
    jira_instance_id   uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    -- issued: URL handed out; started: a browser opened it; verifying: code shown, waiting for
    -- Teams; done / failed: over (pending tokens erased)
    stage              text NOT NULL CHECK (stage IN ('issued', 'started', 'verifying', 'done', 'failed')),
    jira_user_key      text CHECK (jira_user_key IS NULL OR char_length(jira_user_key) BETWEEN 1 AND 255),
    jira_user_name     text CHECK (jira_user_name IS NULL OR char_length(jira_user_name) <= 255),
    jira_token         bytea CHECK (jira_token IS NULL OR octet_length(jira_token) >= 32),
    jira_refresh_token bytea CHECK (jira_refresh_token IS NULL OR octet_length(jira_refresh_token) >= 32),
    jira_expires_at    timestamptz,
    jira_scopes        text NOT NULL DEFAULT '' CHECK (char_length(jira_scopes) <= 4096),
    code_hash          bytea CHECK (code_hash IS NULL OR octet_length(code_hash) = 32),
    attempts           integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 100),
    expires_at         timestamptz NOT NULL,
    CHECK (stage <> 'verifying'
           OR (code_hash IS NOT NULL AND jira_token IS NOT NULL AND jira_user_key IS NOT NULL)),
    CHECK (stage NOT IN ('done', 'failed') OR (jira_token IS NULL AND jira_refresh_token IS NULL))
);
-- one code awaited per Teams user at a time
CREATE UNIQUE INDEX teams_sign_in_one_pending ON teams_sign_in (teams_user_id) WHERE stage = 'verifying';
CREATE INDEX teams_sign_in_expiry_idx ON teams_sign_in (expires_at);

-- A Teams-started flow learns its Jira user at the Jira leg, and waits at `verify` (Microsoft
-- tokens still sealed in it) for the code to come back through Teams.
ALTER TABLE sign_in_flow ALTER COLUMN jira_user_key DROP NOT NULL;
ALTER TABLE sign_in_flow DROP CONSTRAINT sign_in_flow_stage_check;
ALTER TABLE sign_in_flow ADD CONSTRAINT sign_in_flow_stage_check
    CHECK (stage IN ('microsoft', 'jira', 'verify', 'done', 'failed'));
