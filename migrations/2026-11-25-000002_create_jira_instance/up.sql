-- Registered Jira Data Center instances. Secrets are vault ciphertexts (AES-256-GCM, AAD bound
-- to table/row/column); the hint is the first characters only, stored for display.
CREATE TABLE jira_instance (
    id                 uuid PRIMARY KEY,
    base_url           text NOT NULL UNIQUE
                       CHECK (base_url ~ '^https?://[a-z0-9.:\[\]-]+(/[^?#[:space:]]*[^/?#[:space:]])?$'
                              AND char_length(base_url) <= 2048),
    public_id          text NOT NULL UNIQUE CHECK (public_id ~ '^[2-9A-HJ-NP-Za-km-np-z]{6,12}$'),
    shared_secret      bytea NOT NULL CHECK (octet_length(shared_secret) >= 32),
    shared_secret_hint text NOT NULL CHECK (char_length(shared_secret_hint) BETWEEN 4 AND 8),
    webhook_secret     bytea CHECK (webhook_secret IS NULL OR octet_length(webhook_secret) >= 32),
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at  timestamptz NOT NULL DEFAULT now()
);
-- http://host and https://host are one instance
CREATE UNIQUE INDEX jira_instance_base_url_any_scheme_key
    ON jira_instance ((regexp_replace(base_url, '^https?://', '')));
