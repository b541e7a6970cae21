-- Hashes of Jira app tokens already used for a state-changing call, kept until they expire.
CREATE TABLE jwt_replay (
    token_hash       bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    expires_at       timestamptz NOT NULL
);
CREATE INDEX jwt_replay_expires_idx ON jwt_replay (expires_at);
