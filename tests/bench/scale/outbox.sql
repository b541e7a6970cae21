-- Scale benchmark seed, part 2: delivered outbox rows lo..hi (psql variables lo, hi; users =
-- Jira users, maps = linked accounts at this size), in the shapes the daemon writes:
-- chat_notification {chatId, event} 60 %, event_fanout {event} 25 %, personal_notification
-- {event, tenantId, aadObjectId, reason} 10 %, bot_message {conversationId, serviceUrl,
-- activity} 5 %. One row in 10,000 is dead. Row n's event is caused by Jira user u (instance
-- of u), about an issue assigned to and reported by users of the same instance.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
CREATE OR REPLACE FUNCTION pg_temp.inst(u bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN u % 100 < 90 THEN '00000000-0000-4000-8000-00000000b001'::uuid
              WHEN u % 100 < 99 THEN '00000000-0000-4000-8000-00000000b002'::uuid
              ELSE '00000000-0000-4000-8000-00000000b003'::uuid END $$;
INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, status, attempts, run_after, last_error,
                    created_at, updated_at, ordering_key)
SELECT kind, pg_temp.inst(u), dedupe, payload,
       CASE WHEN n % 10000 = 0 THEN 'dead' ELSE 'done' END,
       CASE WHEN n % 10000 = 0 THEN 8 ELSE 1 END, at,
       CASE WHEN n % 10000 = 0 THEN 'Bot Connector answered 403: the bot is not in the conversation' END,
       at, at + interval '2 seconds', ordering
FROM (
  SELECT n, u, at,
         CASE WHEN n % 20 < 12 THEN 'chat_notification' WHEN n % 20 < 17 THEN 'event_fanout'
              WHEN n % 20 < 19 THEN 'personal_notification' ELSE 'bot_message' END AS kind,
         CASE WHEN n % 20 < 12 THEN ev_key || ':' || chat
              WHEN n % 20 < 17 THEN ev_key
              WHEN n % 20 < 19 THEN ev_key || ':user:' || md5('um:' || m)::uuid
              ELSE 'bot:' || n END AS dedupe,
         CASE WHEN n % 20 < 12 THEN jsonb_build_object('chatId', chat, 'event', ev)
              WHEN n % 20 < 17 THEN jsonb_build_object('event', ev)
              WHEN n % 20 < 19 THEN jsonb_build_object('event', ev, 'tenantId', '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01',
                                                       'aadObjectId', md5('ms:' || m)::uuid,
                                                       'reason', 'You are the assignee.')
              ELSE jsonb_build_object('conversationId', 'a:1' || md5('pc:' || m),
                                      'serviceUrl', 'https://smba.trafficmanager.net/emea/',
                                      'activity', jsonb_build_object('type', 'message',
                                          'text', 'Your subscription to ' || project || ' is saved.'))
         END AS payload,
         CASE WHEN n % 20 < 12 THEN 'conv:' || chat
              WHEN n % 20 < 17 THEN 'issue:' || pg_temp.inst(u) || ':' || issue
              WHEN n % 20 < 19 THEN 'user:' || md5('ms:' || m)::uuid
              ELSE 'conv:a:1' || md5('pc:' || m) END AS ordering
  FROM (
    SELECT n, u, m, at, issue, project, chat,
           CASE WHEN n % 4 = 1 THEN 'comment:' || issue || ':' || n || ':created'
                ELSE CASE WHEN n % 4 = 2 THEN 'IssueCreated:' ELSE 'IssueUpdated:' END
                     || issue || ':' || CASE WHEN n % 4 = 2 THEN '-' ELSE n::text END || ':-:' || ts END AS ev_key,
           jsonb_build_object(
             'kind', CASE WHEN n % 4 = 1 THEN 'comment_created' WHEN n % 4 = 2 THEN 'issue_created' ELSE 'issue_updated' END,
             'event_type', CASE WHEN n % 4 = 1 THEN 'issue_commented' WHEN n % 4 = 2 THEN 'issue_created' ELSE 'issue_generic' END,
             'timestamp_ms', ts, 'issue_id', issue,
             'issue_key', project || '-' || (issue % 9000 + 1),
             'summary', 'Login fails after the password change on ' || project || ' ' || (n % 997),
             'actor', 'User ' || u,
             'changed_fields', CASE WHEN n % 4 IN (0, 3) THEN jsonb_build_array('status', 'assignee') ELSE '[]'::jsonb END,
             'changelog_id', CASE WHEN n % 4 IN (0, 3) THEN n::text END,
             'comment_id', CASE WHEN n % 4 = 1 THEN (500000 + n)::text END,
             'comment_version', NULL,
             'involved', jsonb_build_object('project_key', project,
                                            'actor_key', 'JIRAUSER' || (10000 + u),
                                            'assignee_key', 'JIRAUSER' || (10000 + a),
                                            'reporter_key', 'JIRAUSER' || (10000 + r),
                                            'mentioned_names', '[]'::jsonb,
                                            'comment_restricted', false)) AS ev
    FROM (
      SELECT n, u, a, r, (a - 1) % :maps + 1 AS m,
             timestamptz '2025-12-01' + n * interval '3.1536 seconds' AS at,
             1764100000000 + n * 3000 AS ts,
             10000 + (n * 13) % 100000 AS issue, 'P' || (n % 50) AS project,
             '19:' || md5('chat:' || (1 + (n * 31) % 200000)) || '@thread.v2' AS chat
      FROM generate_series(:lo::bigint, :hi::bigint) n,
           LATERAL (SELECT 1 + (n * 7919) % :users AS u) x,
           LATERAL (SELECT (u - 1 + 100 * ((n * 31) % 50)) % :users + 1 AS a,
                           (u - 1 + 100 * ((n * 17) % 50)) % :users + 1 AS r) y
    ) s1
  ) s2
) s3;
