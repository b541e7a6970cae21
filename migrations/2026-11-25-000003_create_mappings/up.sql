-- Jira user <-> Microsoft user, issue <-> Teams chat, and shared read access to a linked chat.
CREATE TABLE user_mapping (
    id               uuid PRIMARY KEY,
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    jira_user_key    text NOT NULL CHECK (char_length(jira_user_key) BETWEEN 1 AND 255),
    ms_tenant_id     uuid NOT NULL,
    ms_user_id       uuid NOT NULL,
    status           text NOT NULL DEFAULT 'linked' CHECK (status IN ('linked', 'needs_reauth')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jira_instance_id, jira_user_key),
    UNIQUE (jira_instance_id, ms_tenant_id, ms_user_id)
);

CREATE TABLE issue_chat (
    id               uuid PRIMARY KEY,
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    issue_id         bigint NOT NULL CHECK (issue_id > 0),
    created_by       text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 255),
    chat_id          text NOT NULL
                     CHECK (chat_id ~ '^19:[^[:space:]/]+@(thread\.v2|thread\.tacv2|thread\.skype|unq\.gbl\.spaces)$'
                            AND char_length(chat_id) <= 512),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jira_instance_id, issue_id, chat_id)
);
CREATE INDEX issue_chat_chat_idx ON issue_chat (jira_instance_id, chat_id);

CREATE TABLE shared_chat_access (
    id            uuid PRIMARY KEY,
    issue_chat_id uuid NOT NULL UNIQUE REFERENCES issue_chat (id) ON DELETE CASCADE,
    restrictions  jsonb NOT NULL
                  CHECK (jsonb_typeof(restrictions) = 'object'
                         AND restrictions ->> 'publicAccess' IN ('share', 'none')),
    set_by        text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 255),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
