-- Per-instance settings (e.g. appearance) and JSM portal apps, both JSON.
CREATE TABLE instance_setting (
    id               uuid PRIMARY KEY,
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$'),
    value            jsonb NOT NULL,
    updated_by       text CHECK (char_length(updated_by) <= 255),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jira_instance_id, name)
);

CREATE TABLE jsm_portal_app (
    id               uuid PRIMARY KEY,
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    settings         jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jsm_portal_app_instance_idx ON jsm_portal_app (jira_instance_id);
