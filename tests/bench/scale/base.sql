-- Scale benchmark seed, part 1: instances, linked users, tokens, Teams settings, chats and
-- their members, channel subscriptions and a small blocked delivery backlog.
-- psql variables: f0 (size already seeded, 0 for none) and f1 (size to reach). Only rows
-- numbered from the f0 count + 1 to the f1 count are added, so sizes seeded in increasing order
-- top the same database up. Every row is derived from its number (ids are md5-based uuids):
-- the same row number always gives the same row.
--
-- Base (f = 1): 50k Jira users (keys in events), 20k linked accounts (user_mapping, 2 access
-- tokens each, a teams_user_setting each), 200k issue<->chat links (3 members each), 5k channel
-- subscriptions, a backlog of 200 retrying deliveries with 10 due deliveries behind each.
-- User u belongs to instance big (u % 100 < 90), mid (< 99) or tiny (the "other" instance).
\set ON_ERROR_STOP on
SET synchronous_commit = off;

CREATE TEMP TABLE scale_n AS
SELECT round(20000 * :f0)::int AS m0, round(20000 * :f1)::int AS m1,
       round(200000 * :f0)::int AS c0, round(200000 * :f1)::int AS c1,
       round(5000 * :f0)::int AS s0, round(5000 * :f1)::int AS s1,
       greatest(1, round(200 * :f0))::int * (:f0 > 0)::int AS b0, greatest(1, round(200 * :f1))::int AS b1;

INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint, webhook_token_hash, remote_links)
VALUES ('00000000-0000-4000-8000-00000000b001', 'https://jira-big.example.com', 'bigsite',
        decode(repeat('ab', 48), 'hex'), 'scal', sha256(convert_to('scaletoken', 'UTF8')), false),
       ('00000000-0000-4000-8000-00000000b002', 'https://jira-mid.example.com', 'medsite',
        decode(repeat('ac', 48), 'hex'), 'scal', sha256(convert_to('scaletoken', 'UTF8')), false),
       ('00000000-0000-4000-8000-00000000b003', 'https://jira-tiny.example.com', 'tinysite',
        decode(repeat('ad', 48), 'hex'), 'scal', sha256(convert_to('scaletoken', 'UTF8')), false)
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION pg_temp.inst(u bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN u % 100 < 90 THEN '00000000-0000-4000-8000-00000000b001'::uuid
              WHEN u % 100 < 99 THEN '00000000-0000-4000-8000-00000000b002'::uuid
              ELSE '00000000-0000-4000-8000-00000000b003'::uuid END $$;

-- linked accounts: user u = 1..m
INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, status,
                          created_at, updated_at, ms_user_name, jira_user_name, status_detail)
SELECT md5('um:' || u)::uuid, pg_temp.inst(u), 'JIRAUSER' || (10000 + u),
       '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01', md5('ms:' || u)::uuid,
       CASE WHEN u % 50 = 0 THEN 'needs_reauth' ELSE 'linked' END,
       timestamptz '2025-12-01' + u * interval '26 minutes',
       timestamptz '2025-12-01' + u * interval '26 minutes' + (u % 97) * interval '1 day',
       'User ' || u, 'user' || u,
       CASE WHEN u % 50 = 0 THEN 'The Microsoft sign-in expired.' END
FROM scale_n, generate_series(m0 + 1, m1) u;

INSERT INTO access_token (id, kind, jira_instance_id, user_mapping_id, scopes, token, refresh_token, expires_at)
SELECT md5('at' || k || ':' || u)::uuid,
       CASE k WHEN 'm' THEN 'microsoft_user' ELSE 'jira_user' END,
       pg_temp.inst(u), md5('um:' || u)::uuid,
       CASE k WHEN 'm' THEN 'offline_access Chat.ReadWrite User.Read' ELSE 'WRITE' END,
       decode(md5('t' || k || u) || md5('u' || k || u) || md5('v' || k || u), 'hex'),
       decode(md5('r' || k || u) || md5('s' || k || u) || md5('w' || k || u), 'hex'),
       now() + interval '1 hour'
FROM scale_n, generate_series(m0 + 1, m1) u, (VALUES ('m'), ('j')) t(k);

-- one app token (the bot's): audit rows of the bot's reads point at it
INSERT INTO access_token (id, kind, ms_tenant_id, token, expires_at)
VALUES ('00000000-0000-4000-8000-0000000a0b07', 'bot_connector', '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01',
        decode(repeat('cd', 48), 'hex'), now() + interval '1 hour')
ON CONFLICT DO NOTHING;

INSERT INTO teams_user_setting (teams_user_id, settings, updated_at)
SELECT '29:1' || md5('tu:' || u),
       jsonb_build_object('tenantId', '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01', 'aadObjectId', md5('ms:' || u)::uuid,
                          'personalConversationId', 'a:1' || md5('pc:' || u),
                          'serviceUrl', 'https://smba.trafficmanager.net/emea/'),
       timestamptz '2025-12-01' + u * interval '26 minutes'
FROM scale_n, generate_series(m0 + 1, m1) u;

-- issue <-> chat links: chat c, created by linked user u of its instance
INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id, created_at, topic, web_url,
                        remote_link_state, remote_link_version)
SELECT md5('ic:' || c)::uuid, pg_temp.inst(u), 10000 + (c + 1) / 2, 'JIRAUSER' || (10000 + u),
       '19:' || md5('chat:' || c) || '@thread.v2',
       timestamptz '2025-12-01' + c * interval '157 seconds',
       'P' || (c % 50) || '-' || (c % 9000 + 1) || ': Summary of the issue',
       'https://teams.microsoft.com/l/chat/19:' || md5('chat:' || c) || '@thread.v2/0',
       'linked', 1
FROM scale_n, generate_series(c0 + 1, c1) c, LATERAL (SELECT 1 + (c::bigint * 7919) % m1 AS u) x;

INSERT INTO issue_chat_member (issue_chat_id, ms_user_id)
SELECT md5('ic:' || c)::uuid, md5('ms:' || ((u - 1 + 100 * k) % m1 + 1))::uuid
FROM scale_n, generate_series(c0 + 1, c1) c, LATERAL (SELECT 1 + (c::bigint * 7919) % m1 AS u) x,
     generate_series(0, 2) k
ON CONFLICT DO NOTHING;

INSERT INTO channel_subscription (id, jira_instance_id, conversation_id, tenant_id, project_key, events, jql,
                                  owner_mapping_id, created_by, created_at)
SELECT md5('cs:' || s)::uuid, pg_temp.inst(u), '19:' || md5('chan:' || s) || '@thread.tacv2',
       '7a1d0c5e-3b52-4c3e-9a57-0c1f4d2e6b01', 'P' || (s % 50),
       CASE WHEN s % 3 = 0 THEN ARRAY['issue_created', 'issue_updated', 'comment_created']
            ELSE ARRAY['issue_created', 'issue_updated', 'issue_deleted', 'comment_created',
                       'comment_updated', 'comment_deleted'] END,
       CASE WHEN s % 4 = 0 THEN 'priority = High' END,
       md5('um:' || u)::uuid, '29:1' || md5('tu:' || u),
       timestamptz '2025-12-01' + s * interval '100 minutes'
FROM scale_n, generate_series(s0 + 1, s1) s, LATERAL (SELECT 1 + (s::bigint * 7919) % m1 AS u) x;

-- a delivery backlog: conversation b has one item retrying in a year and 10 due items behind
-- it (what the claim must skip); the runner never takes them
INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, status, attempts, run_after, last_error, ordering_key)
SELECT 'chat_notification', '00000000-0000-4000-8000-00000000b001', 'backlog:' || b || ':' || j,
       jsonb_build_object('chatId', '19:backlog' || b || '@thread.v2',
                          'event', jsonb_build_object('kind', 'issue_updated', 'issue_id', 20000 + b, 'issue_key', 'P1-' || b,
                                                      'timestamp_ms', 1764100000000 + j, 'changed_fields', jsonb_build_array('status'),
                                                      'involved', jsonb_build_object('project_key', 'P1'))),
       'pending', CASE WHEN j = 0 THEN 3 ELSE 0 END,
       CASE WHEN j = 0 THEN now() + interval '365 days' ELSE now() - interval '1 hour' END,
       CASE WHEN j = 0 THEN 'Bot Connector answered 502; retrying' END,
       'conv:19:backlog' || b || '@thread.v2'
FROM scale_n, generate_series(b0 + 1, b1) b, generate_series(0, 10) j
ORDER BY b, j;
