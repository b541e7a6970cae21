-- Scale benchmark seed, part 3: secret access audit rows lo..hi (psql variables lo, hi; maps =
-- linked accounts at this size): API reads by `<public_id>:<jira_user_key>` of the user's Jira
-- token 50 %, jobs (fanout, notify) reading a user's tokens 35 %, the bot's app token 10 %,
-- admins reading an instance's shared secret 5 %; one read in 997 failed.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
CREATE OR REPLACE FUNCTION pg_temp.inst(u bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN u % 100 < 90 THEN '00000000-0000-4000-8000-00000000b001'::uuid
              WHEN u % 100 < 99 THEN '00000000-0000-4000-8000-00000000b002'::uuid
              ELSE '00000000-0000-4000-8000-00000000b003'::uuid END $$;
CREATE OR REPLACE FUNCTION pg_temp.pub(u bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN u % 100 < 90 THEN 'bigsite' WHEN u % 100 < 99 THEN 'medsite' ELSE 'tinysite' END $$;
INSERT INTO secret_access_audit (at, actor_kind, actor, secret_kind, secret_table, secret_row, secret_label,
                                 purpose, outcome, detail)
SELECT timestamptz '2025-12-01' + n * interval '1.5768 seconds',
       CASE WHEN k < 10 THEN 'api' WHEN k < 17 THEN 'job' WHEN k < 19 THEN 'system' ELSE 'admin' END,
       CASE WHEN k < 10 THEN pg_temp.pub(u) || ':JIRAUSER' || (10000 + u)
            WHEN k < 17 THEN CASE WHEN k % 2 = 0 THEN 'fanout' ELSE 'notify' END
            WHEN k < 19 THEN 'bot' ELSE 'admin' END,
       CASE WHEN k < 19 THEN 'access_token' ELSE 'jira_shared_secret' END,
       CASE WHEN k < 19 THEN 'access_token' ELSE 'jira_instance' END,
       CASE WHEN k < 10 THEN md5('atj:' || u)::uuid
            WHEN k < 17 THEN md5(CASE WHEN k % 2 = 0 THEN 'atj:' ELSE 'atm:' END || u)::uuid
            WHEN k < 19 THEN '00000000-0000-4000-8000-0000000a0b07'::uuid
            ELSE pg_temp.inst(u) END,
       CASE WHEN k < 10 THEN 'Jira token of user' || u WHEN k < 17 THEN 'token of user' || u
            WHEN k < 19 THEN 'Bot Connector token' ELSE 'shared secret of ' || pg_temp.pub(u) END,
       CASE WHEN k < 10 THEN 'relay chat messages' WHEN k < 17 THEN 'find who to notify'
            WHEN k < 19 THEN 'send a card' ELSE 'show the connection details' END,
       CASE WHEN n % 997 = 0 THEN 'failed' ELSE 'ok' END,
       CASE WHEN n % 997 = 0 THEN 'decryption failed: the key version is not in the keyring' END
FROM generate_series(:lo::bigint, :hi::bigint) n,
     LATERAL (SELECT n % 20 AS k, 1 + (n * 7919) % :maps AS u) x;
