-- Export and erase of one user cost what that user's rows cost: every filter of the data
-- lifecycle (db/models/lifecycle) finds its rows through an index instead of scanning the
-- outbox or the audit table.

-- The users and conversations an outbox row names, prefixed by what they are: 'k:' a Jira user
-- key (the event's actor, assignee, reporter), 'm:' a Microsoft (Entra) object id, 'c:' a Teams
-- conversation id. Computed from the payload, so writers stay as they are and the table is not
-- rewritten; a GIN index (with its pending list, cheap per insert) answers `&&`.
CREATE FUNCTION outbox_names(payload jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array_remove(ARRAY[
    'k:' || (payload -> 'event' -> 'involved' ->> 'actor_key'),
    'k:' || (payload -> 'event' -> 'involved' ->> 'assignee_key'),
    'k:' || (payload -> 'event' -> 'involved' ->> 'reporter_key'),
    'm:' || (payload ->> 'aadObjectId'),
    'c:' || (payload ->> 'conversationId')], NULL)
$$;

SET LOCAL maintenance_work_mem = '256MB';
CREATE INDEX outbox_names_idx ON outbox USING gin (outbox_names(payload));
-- an instance's rows (export and erase of an instance, and the cascade of its delete)
CREATE INDEX outbox_instance_idx ON outbox (jira_instance_id, id);

-- API reads by one user (`<public_id>:<jira_user_key>`) or by any user of an instance (the
-- prefix `<public_id>:`, a range in the "C" collation)
CREATE INDEX secret_access_audit_api_actor_idx ON secret_access_audit (actor COLLATE "C", id)
  WHERE actor_kind = 'api';

-- the smaller tables a user's rows are found in
CREATE INDEX access_token_mapping_idx ON access_token (user_mapping_id);
CREATE INDEX access_token_instance_idx ON access_token (jira_instance_id);
CREATE INDEX bot_action_teams_user_idx ON bot_action (teams_user_id);
CREATE INDEX channel_subscription_creator_idx ON channel_subscription (jira_instance_id, created_by);
CREATE INDEX issue_chat_creator_idx ON issue_chat (jira_instance_id, created_by);
CREATE INDEX issue_chat_member_user_idx ON issue_chat_member (ms_user_id);
CREATE INDEX shared_chat_access_set_by_idx ON shared_chat_access (set_by);
CREATE INDEX user_mapping_ms_user_idx ON user_mapping (ms_user_id);
CREATE INDEX teams_sign_in_aad_idx ON teams_sign_in (aad_object_id);
