-- Admin accounts, their sessions, login attempts (throttling) and the one-time setup token.
CREATE TABLE admin_user (
    id            uuid PRIMARY KEY,
    username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX admin_user_username_key ON admin_user (lower(username));

CREATE TABLE admin_session (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    admin_user_id uuid NOT NULL REFERENCES admin_user (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX admin_session_admin_user_id_idx ON admin_session (admin_user_id);

CREATE TABLE login_attempt (
    id        bigserial PRIMARY KEY,
    username  text NOT NULL CHECK (char_length(username) <= 256),
    client_ip text NOT NULL CHECK (char_length(client_ip) <= 64),
    succeeded boolean NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempt_username_idx ON login_attempt (lower(username), at);
CREATE INDEX login_attempt_client_ip_idx ON login_attempt (client_ip, at);

-- At most one pending setup token; only its SHA-256 is stored, the token itself is in the state dir.
CREATE TABLE setup_token (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
