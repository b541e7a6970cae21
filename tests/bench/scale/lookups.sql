-- The per-event statements the daemon runs, copied from the source, each timed by scale.sh
-- with EXPLAIN (ANALYZE) (median of several runs; a claim runs in a transaction that is rolled
-- back). Each statement starts with a `-- name: <key> | <label>` line and is one statement
-- (the claim's BEGIN/ROLLBACK are added by scale.sh). psql variables: big (the big instance's
-- id), keys (a text[] literal of three Jira user keys of it), ms (a uuid[] literal of three
-- Microsoft users linked in it).
-- When a change rewrites one of these statements in src/, copy the new text here.

-- name: fanout_by_jira_users | fan-out: links of the event's people (UserMapping::by_jira_users)
SELECT id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, status, created_at, updated_at,
       ms_user_name, jira_user_name, status_detail, lapse_count
  FROM user_mapping WHERE jira_instance_id = :'big' AND jira_user_key = ANY(:'keys'::text[]);

-- name: fanout_any_linked | fan-out: any linked user to ask Jira as (UserMapping::page_of_instance(1))
SELECT id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, status, created_at, updated_at,
       ms_user_name, jira_user_name, status_detail, lapse_count
  FROM user_mapping WHERE jira_instance_id = :'big' AND status = 'linked'
 ORDER BY created_at ASC, id ASC LIMIT 1;

-- name: fanout_by_ms_users | fan-out: links of chat members (UserMapping::by_ms_users)
SELECT id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, status, created_at, updated_at,
       ms_user_name, jira_user_name, status_detail, lapse_count
  FROM user_mapping WHERE jira_instance_id = :'big' AND ms_user_id = ANY(:'ms'::uuid[]);

-- name: fanout_subscriptions | fan-out: the project's channel subscriptions (ChannelSubscription::for_event)
SELECT id, jira_instance_id, conversation_id, tenant_id, project_key, events, jql, owner_mapping_id,
       created_by, created_at
  FROM channel_subscription
 WHERE jira_instance_id = :'big' AND project_key = 'P7' AND events @> ARRAY['issue_updated']::text[];

-- name: fanout_teams_setting | fan-out: a person's Teams settings (TeamsUserSetting::by_aad_object)
SELECT teams_user_id, settings, updated_at FROM teams_user_setting
 WHERE settings ->> 'aadObjectId' = (:'ms'::uuid[])[1]::text
   AND settings ->> 'tenantId' = '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01'
 ORDER BY updated_at DESC LIMIT 1;

-- name: outbox_claim | outbox claim: batch of 32 (OutboxItem::claim's cursor, its first FETCH), a blocked backlog queued
SELECT o.id, (o.ordering_key IS NOT NULL AND EXISTS (
         SELECT 1 FROM outbox e
          WHERE e.ordering_key = o.ordering_key AND e.status = 'pending'
            AND e.id < o.id)) AS behind
  FROM outbox o
 WHERE o.status = 'pending' AND NOT o.held
   AND o.kind = ANY(ARRAY['chat_notification', 'event_fanout', 'personal_notification', 'bot_message',
                          'bot_welcome', 'jira_remote_link', 'jira_remote_link_delete',
                          'jira_remote_link_comment', 'jira_remote_link_resync', 'link_lapsed',
                          'link_lapsed_channel'])
   AND o.run_after <= now()
   AND (o.leased_until IS NULL OR o.leased_until < now())
 ORDER BY o.run_after LIMIT 32
 FOR UPDATE OF o SKIP LOCKED;
