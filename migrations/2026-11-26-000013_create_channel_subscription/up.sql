-- Issue 5: channel subscriptions, personal notifications and per-conversation ordering.

-- Items with the same ordering key are delivered one after the other, in id order: an item is
-- not claimed while an earlier one with its key is still pending (retrying included).
ALTER TABLE outbox ADD COLUMN ordering_key text CHECK (char_length(ordering_key) <= 600);
CREATE INDEX outbox_ordering_idx ON outbox (ordering_key, id)
    WHERE status = 'pending' AND ordering_key IS NOT NULL;

-- A Teams channel subscribed to one Jira project's events. The owner is the linked user who
-- subscribed: Jira is asked as them whether an issue may be shown and whether it matches `jql`.
CREATE TABLE channel_subscription (
    id               uuid PRIMARY KEY,
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    conversation_id  text NOT NULL
                     CHECK (conversation_id ~ '^19:[^[:space:]]+@(thread\.skype|thread\.tacv2)$'
                            AND char_length(conversation_id) <= 512),
    tenant_id        uuid NOT NULL,
    project_key      text NOT NULL CHECK (project_key ~ '^[A-Z][A-Z0-9_]{0,99}$'),
    events           text[] NOT NULL
                     CHECK (cardinality(events) > 0
                            AND events <@ ARRAY['issue_created', 'issue_updated', 'issue_deleted',
                                                'comment_created', 'comment_updated',
                                                'comment_deleted']::text[]),
    jql              text CHECK (char_length(jql) BETWEEN 1 AND 2000),
    owner_mapping_id uuid NOT NULL REFERENCES user_mapping (id) ON DELETE CASCADE,
    created_by       text NOT NULL CHECK (created_by ~ '^29:[^[:space:]]+$' AND char_length(created_by) <= 512),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jira_instance_id, conversation_id, project_key)
);
CREATE INDEX channel_subscription_project_idx ON channel_subscription (jira_instance_id, project_key);

-- Personal notifications find a Teams user's settings (and 1:1 conversation) by Entra object id.
CREATE INDEX teams_user_setting_aad_idx ON teams_user_setting ((settings ->> 'aadObjectId'));
