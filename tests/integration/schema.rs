//! Migrations and the constraints that keep bad data out even when code has a bug.

use crate::support::db::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn table_count(conn: &mut PgConnection) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'")
        .get_result::<N>(conn)
        .unwrap()
        .n
}

#[test]
fn migrations_go_up_down_and_up_again() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    let applied = jira_teams_bridge::db::migrate(&mut conn).unwrap();
    assert!(applied >= 8);
    assert_eq!(table_count(&mut conn), 28);
    assert_eq!(
        jira_teams_bridge::db::pending_migrations(&mut conn).unwrap(),
        0
    );
    let reverted = jira_teams_bridge::db::revert_all(&mut conn).unwrap();
    assert_eq!(reverted, applied);
    assert_eq!(table_count(&mut conn), 0);
    assert_eq!(jira_teams_bridge::db::migrate(&mut conn).unwrap(), applied);
    assert_eq!(table_count(&mut conn), 28);
}

fn exec(conn: &mut PgConnection, sql: &str) -> Result<usize, String> {
    diesel::sql_query(sql)
        .execute(conn)
        .map_err(|e| e.to_string())
}

const INSTANCE: &str = "INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) \
    VALUES ('00000000-0000-4000-8000-000000000001', 'https://jira.example.com', 'tHXLY2', decode(repeat('ab', 40), 'hex'), 'NqM6OM')";

#[test]
fn the_database_refuses_malformed_rows() {
    let db = TestDb::migrated();
    let mut c = db.conn();
    exec(&mut c, INSTANCE).unwrap();
    let bad = [
        // chat ids must look like Teams chat ids
        "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 10045, 'u', 'not-a-chat')",
        // issue ids are positive
        "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', -1, 'u', '19:abc@thread.v2')",
        // bot membership status is one of the known values
        "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) VALUES (gen_random_uuid(), '19:a050c65057f689@thread.skype', gen_random_uuid(), 'team', 'https://smba.trafficmanager.net/amer/', 'whatever')",
        // service urls are https
        "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) VALUES (gen_random_uuid(), '19:a050c65057f689@thread.skype', gen_random_uuid(), 'team', 'http://evil.example/', 'teamMemberAdded')",
        // a membership's team is a team thread, and only channels have one
        "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status, team_id) VALUES (gen_random_uuid(), '19:a050c65057f689@thread.tacv2', gen_random_uuid(), 'team', 'https://smba.trafficmanager.net/amer/', 'teamMemberAdded', '19:chat@thread.v2')",
        "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status, team_id) VALUES (gen_random_uuid(), '19:a050c65057f689@thread.v2', gen_random_uuid(), 'groupChat', 'https://smba.trafficmanager.net/amer/', 'installationAdded', '19:team@thread.tacv2')",
        // Teams user ids start with 29:
        "INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ('1sNK5nFAqk9wy', '{}')",
        // settings are JSON objects
        "INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ('29:1sNK5nFAqk9wy-1FlQm', '[1]')",
        // shared access restrictions carry a known publicAccess
        "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000001', 1, 'u', '19:abc@thread.v2'); \
         INSERT INTO shared_chat_access (id, issue_chat_id, restrictions, set_by) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c1', '{\"publicAccess\":\"everyone\"}', 'u')",
        // GUID columns take GUIDs only
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'alice', 'nope', gen_random_uuid())",
        // base URLs are normalised (no trailing slash)
        "INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) VALUES (gen_random_uuid(), 'https://jira.example.org/', 'abcdef', decode(repeat('ab', 40), 'hex'), 'abcd')",
        // ambiguous characters are not part of public IDs
        "INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) VALUES (gen_random_uuid(), 'https://jira.example.org', 'O0lI1x', decode(repeat('ab', 40), 'hex'), 'abcd')",
        // tokens belong to a user mapping or to a tenant
        "INSERT INTO access_token (id, kind, token) VALUES (gen_random_uuid(), 'microsoft_user', decode(repeat('ab', 40), 'hex'))",
        // a Jira app token belongs to an instance
        "INSERT INTO access_token (id, kind, token) VALUES (gen_random_uuid(), 'jira_app', decode(repeat('ab', 40), 'hex'))",
        // a posted card belongs to a Teams conversation
        "INSERT INTO posted_card (conversation_id, jira_instance_id, issue_id, comment_id, activity_id, last_event_ms) VALUES ('not-a-conversation', '00000000-0000-4000-8000-000000000001', 10045, '10600', '1:1', 1)",
        // http and https spellings of one URL are one instance
        "INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) VALUES (gen_random_uuid(), 'http://jira.example.com', 'abcdef', decode(repeat('ab', 40), 'hex'), 'abcd')",
    ];
    for sql in bad {
        // each case in a transaction of its own that is always rolled back
        let err = c
            .batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
            .expect_err(sql)
            .to_string();
        let _ = c.batch_execute("ROLLBACK");
        assert!(
            err.contains("violates") || err.contains("invalid input syntax"),
            "{sql}: refused for another reason: {err}"
        );
    }
    // the valid twin of the shared-access case is accepted, so the refusals above are the CHECKs
    c.batch_execute("BEGIN; INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000001', 1, 'u', '19:abc@thread.v2'); \
         INSERT INTO shared_chat_access (id, issue_chat_id, restrictions, set_by) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c1', '{\"publicAccess\":\"share\"}', 'u'); ROLLBACK;")
        .unwrap();
    // one mapping per Jira user per instance
    let m = "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'bc62ee3e', '0e3419f7-4c4d-47e7-b98a-7b9b9de02b80', gen_random_uuid())";
    exec(&mut c, m).unwrap();
    assert!(exec(&mut c, m).unwrap_err().contains("duplicate key"));
    // one link per issue + chat
    let l = "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 10045, '5f344aaa58ea7b00705b8bb2', '19:91571ee8ad174aefaccd2e4605d87a24@thread.v2')";
    exec(&mut c, l).unwrap();
    assert!(exec(&mut c, l).unwrap_err().contains("duplicate key"));
}

#[test]
fn deleting_an_instance_deletes_its_data() {
    let db = TestDb::migrated();
    let mut c = db.conn();
    exec(&mut c, INSTANCE).unwrap();
    exec(&mut c, "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) VALUES ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 'alice', gen_random_uuid(), gen_random_uuid())").unwrap();
    exec(&mut c, "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000001', 10045, 'alice', '19:abc@thread.v2')").unwrap();
    exec(&mut c, "INSERT INTO shared_chat_access (id, issue_chat_id, restrictions, set_by) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c1', '{\"publicAccess\":\"share\"}', 'alice')").unwrap();
    exec(&mut c, "INSERT INTO instance_setting (id, jira_instance_id, name, value) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'appearance', '{}')").unwrap();
    exec(&mut c, "INSERT INTO access_token (id, kind, jira_instance_id, user_mapping_id, token) VALUES (gen_random_uuid(), 'jira_user', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000a1', decode(repeat('ab', 40), 'hex'))").unwrap();
    exec(&mut c, "INSERT INTO outbox (kind, jira_instance_id, payload) VALUES ('notify', '00000000-0000-4000-8000-000000000001', '{}')").unwrap();
    exec(&mut c, "INSERT INTO posted_card (conversation_id, jira_instance_id, issue_id, comment_id, activity_id, last_event_ms) VALUES ('19:abc@thread.v2', '00000000-0000-4000-8000-000000000001', 10045, '10600', '1:1', 1)").unwrap();
    exec(&mut c, "DELETE FROM jira_instance").unwrap();
    for t in [
        "user_mapping",
        "issue_chat",
        "shared_chat_access",
        "instance_setting",
        "access_token",
        "outbox",
        "posted_card",
    ] {
        let n: N = diesel::sql_query(format!("SELECT count(*) AS n FROM {t}"))
            .get_result(&mut c)
            .unwrap();
        assert_eq!(n.n, 0, "{t} keeps rows of a deleted instance");
    }
}
