-- The Teams app package (issue 5): one row keeping the manifest id (Teams treats a new id as a
-- new app, so it never changes once made) and the version, which goes up exactly when the
-- fingerprint of the manifest content and icons changes.
CREATE TABLE teams_app_package (
    manifest_id        uuid PRIMARY KEY,
    singleton          boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    version            text NOT NULL CHECK (version ~ '^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$'),
    content_sha256     bytea NOT NULL CHECK (octet_length(content_sha256) = 32),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
