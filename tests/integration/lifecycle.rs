//! Data lifecycle: export and erase of one user or one instance (CLI and admin UI). Retention
//! pruning and the backup/restore drill are in `retention_and_backup`.

use std::collections::BTreeMap;

use crate::support::app::{TestApp, location, spawn_app};
use crate::support::cli::{cli_env, run_cli};
use crate::support::db::{exec, scalar};
use crate::support::world::instance_id;
use diesel::prelude::*;
use jira_teams_bridge::db::models::access_token::{JIRA_USER, MICROSOFT_USER, TokenRow, TokenSet};
use jira_teams_bridge::db::models::secret::{self, FLOW_MS_TOKEN, TEAMS_FLOW_JIRA_TOKEN};
use jira_teams_bridge::db::models::user_mapping::{NewLink, UserMapping};
use serde_json::Value;
use uuid::Uuid;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ALICE: &str = "JIRAUSER10100";
const ALICE_OID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const BOB: &str = "JIRAUSER10200";
const BOB_OID: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const CAROL: &str = "JIRAUSER10300";
const CAROL_OID: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";

/// Tables the lifecycle covers (plus the audit table, checked on its own).
const TABLES: &[&str] = &[
    "jira_instance",
    "user_mapping",
    "access_token",
    "issue_chat",
    "issue_chat_member",
    "shared_chat_access",
    "channel_subscription",
    "teams_user_setting",
    "bot_action",
    "bot_membership",
    "sign_in_flow",
    "teams_sign_in",
    "outbox",
    "instance_setting",
    "jsm_portal_app",
];

fn counts(conn: &mut PgConnection) -> BTreeMap<&'static str, i64> {
    TABLES
        .iter()
        .map(|t| (*t, scalar(conn, &format!("SELECT count(*) AS n FROM {t}"))))
        .collect()
}

fn secrets_of(who: &str) -> Vec<String> {
    [
        "jira-access",
        "jira-refresh",
        "ms-access",
        "flow-ms",
        "teams-flow-jira",
    ]
    .iter()
    .map(|s| format!("{who}-{s}-PLAINTEXT-secret-value"))
    .collect()
}

/// Stores everything the appliance can hold about one user, each secret sealed by the vault.
fn seed_user(app: &TestApp, public_id: &str, key: &str, oid: &str, n: u32) -> Uuid {
    let mut conn = app.db.conn();
    let vault = &app.state.vault;
    let inst = instance_id(&mut conn, public_id);
    let ms_user: Uuid = oid.parse().unwrap();
    let m = UserMapping::link(
        &mut conn,
        &NewLink {
            instance: inst,
            jira_user_key: key,
            jira_user_name: key,
            ms_tenant_id: TENANT.parse().unwrap(),
            ms_user_id: ms_user,
            ms_user_name: "Someone",
        },
    )
    .unwrap();
    let s = secrets_of(key);
    let exp = chrono::Utc::now() + chrono::Duration::hours(1);
    for (kind, access, refresh) in [
        (JIRA_USER, &s[0], Some(s[1].as_str())),
        (MICROSOFT_USER, &s[2], None),
    ] {
        TokenRow::store(
            &mut conn,
            vault,
            kind,
            m.id,
            Some(inst),
            None,
            &TokenSet {
                access_token: access,
                refresh_token: refresh,
                expires_at: exp,
                scopes: "WRITE",
            },
        )
        .unwrap();
    }
    let teams = format!("29:{key}-teams");
    let conv = format!("a:{key}-personal");
    let chat = Uuid::new_v4();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
         VALUES ('{chat}', '{inst}', {}, '{key}', '19:{key}{n}@thread.v2')",
            10045 + n
        ),
    );
    exec(
        &mut conn,
        &format!("INSERT INTO issue_chat_member VALUES ('{chat}', '{ms_user}')"),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO shared_chat_access (id, issue_chat_id, restrictions, set_by) \
         VALUES (gen_random_uuid(), '{chat}', '{{\"publicAccess\":\"share\"}}', '{key}')"
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO channel_subscription (id, jira_instance_id, conversation_id, tenant_id, project_key, events, owner_mapping_id, created_by) \
         VALUES (gen_random_uuid(), '{inst}', '19:chan{n}@thread.tacv2', '{TENANT}', 'PRJ', ARRAY['issue_created'], '{}', '{teams}')",
            m.id
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ('{teams}', \
         '{{\"botWelcomeSent\":true,\"aadObjectId\":\"{ms_user}\",\"tenantId\":\"{TENANT}\",\"personalConversationId\":\"{conv}\",\"serviceUrl\":\"https://smba.trafficmanager.net/amer/\"}}')"
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO bot_action (dedupe_key, teams_user_id, outcome, result) VALUES ('form:{key}', '{teams}', 'done', 'PRJ-{n}')"
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) \
         VALUES (gen_random_uuid(), '{conv}', '{TENANT}', 'personal', 'https://smba.trafficmanager.net/amer/', 'installationAdded')"
        ),
    );
    let flow = Uuid::new_v4();
    let flow_token = hex::encode(secret::seal(vault, FLOW_MS_TOKEN, flow, &s[3]).unwrap());
    exec(
        &mut conn,
        &format!(
            "INSERT INTO sign_in_flow (id, jira_instance_id, jira_user_key, start_hash, browser_hash, stage, ms_user_id, ms_token, expires_at) \
         VALUES ('{flow}', '{inst}', '{key}', sha256('s{flow}'), sha256('b{flow}'), 'jira', '{ms_user}', '\\x{flow_token}', now() + interval '1 hour')"
        ),
    );
    let tsi = Uuid::new_v4();
    let tsi_token = hex::encode(secret::seal(vault, TEAMS_FLOW_JIRA_TOKEN, tsi, &s[4]).unwrap());
    exec(
        &mut conn,
        &format!(
            "INSERT INTO teams_sign_in (id, token_hash, tenant_id, aad_object_id, teams_user_id, jira_instance_id, stage, jira_user_key, jira_token, expires_at) \
         VALUES ('{tsi}', sha256('{tsi}'), '{TENANT}', '{ms_user}', '{teams}', '{inst}', 'started', '{key}', '\\x{tsi_token}', now() + interval '1 hour')"
        ),
    );
    // deliveries that name the user: a personal notification, an event about them, a welcome
    // (not due yet, so the running daemon leaves them alone)
    exec(
        &mut conn,
        &format!(
            "INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, status, run_after) VALUES \
         ('personal_notification', '{inst}', 'e{n}:user:{}', '{{\"aadObjectId\":\"{ms_user}\",\"tenantId\":\"{TENANT}\",\"event\":{{}}}}', 'pending', now() + interval '1 day'), \
         ('chat_notification', '{inst}', 'ev{n}', '{{\"chatId\":\"19:x@thread.v2\",\"event\":{{\"involved\":{{\"assignee_key\":\"{key}\"}}}}}}', 'done', now()), \
         ('bot_welcome', NULL, 'welcome:{teams}', '{{\"conversationId\":\"{conv}\"}}', 'pending', now() + interval '1 day')",
            m.id
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO instance_setting (id, jira_instance_id, name, value, updated_by) \
         VALUES (gen_random_uuid(), '{inst}', 'appearance{n}', '{{}}', '{key}')"
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO secret_access_audit (actor_kind, actor, secret_kind, secret_table, secret_row, purpose, outcome) \
         VALUES ('api', '{public_id}:{key}', 'jira_shared_secret', 'jira_instance', '{inst}', 'verify', 'ok')"
        ),
    );
    m.id
}

/// Two instances: A with Alice and Bob (Alice also set the shared access of Bob's chat), B
/// with Carol and a portal app. Returns (A, B) public IDs and their shared secrets.
async fn world() -> (TestApp, (String, String), (String, String)) {
    let app = spawn_app().await;
    app.complete_setup().await;
    let a = app.register_instance("https://jira-a.example.com").await;
    let b = app.register_instance("https://jira-b.example.com").await;
    seed_user(&app, &a.0, ALICE, ALICE_OID, 1);
    seed_user(&app, &a.0, BOB, BOB_OID, 2);
    seed_user(&app, &b.0, CAROL, CAROL_OID, 3);
    let mut conn = app.db.conn();
    exec(
        &mut conn,
        &format!(
            "UPDATE shared_chat_access SET set_by = '{ALICE}' WHERE issue_chat_id IN (SELECT id FROM issue_chat WHERE created_by = '{BOB}')"
        ),
    );
    let b_id = instance_id(&mut conn, &b.0);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO jsm_portal_app (id, jira_instance_id, settings) VALUES (gen_random_uuid(), '{b_id}', '{{\"tabName\":\"Help\"}}')"
        ),
    );
    (app, a, b)
}

fn export_cli(app: &TestApp, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let (code, out, err) = run_cli(&all, &cli_env(app));
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, v, format!("{out}{err}"))
}

fn rows<'a>(export: &'a Value, table: &str) -> &'a Vec<Value> {
    export["tables"][table]
        .as_array()
        .unwrap_or_else(|| panic!("no {table} in export"))
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "secret {s} leaked");
    }
}

#[actix_web::test]
async fn a_user_export_holds_every_table_of_theirs_and_no_secret_value() {
    let (app, (a, a_secret), _) = world().await;
    let (code, export, raw) = export_cli(&app, &["--user", &format!("{a}:{ALICE}")]);
    assert_eq!(code, 0, "{raw}");
    for (table, n) in [
        ("user_mapping", 1),
        ("access_token", 2),
        ("issue_chat", 1),
        ("issue_chat_member", 1),
        // her own chat's, and the one she set on Bob's chat
        ("shared_chat_access", 2),
        ("channel_subscription", 1),
        ("teams_user_setting", 1),
        ("bot_action", 1),
        ("bot_membership", 1),
        ("sign_in_flow", 1),
        ("teams_sign_in", 1),
        ("outbox", 3),
        ("instance_setting", 1),
        ("secret_access_audit", 1),
    ] {
        assert_eq!(
            rows(&export, table).len(),
            n,
            "{table}: {}",
            export["tables"][table]
        );
    }
    // nothing of Bob, Carol or the instance itself
    assert!(rows(&export, "jira_instance").is_empty());
    assert!(!raw.contains(BOB_OID) && !raw.contains(CAROL));
    let token = &rows(&export, "access_token")[0];
    assert_eq!(token["token"], "<encrypted, 1 value>");
    assert!(
        export["notes"]["bot_membership"]
            .as_str()
            .unwrap()
            .contains("instance-independent")
    );
    let mut secrets = secrets_of(ALICE);
    secrets.push(a_secret);
    assert_no_secret(&raw, &secrets);
    // no ciphertext either (bytea renders as \x…)
    assert!(!raw.contains("\\\\x"), "ciphertext in the export");
}

#[actix_web::test]
async fn an_instance_export_redacts_its_secrets_and_leaves_other_instances_out() {
    let (app, (a, a_secret), (_, b_secret)) = world().await;
    let (code, export, raw) = export_cli(&app, &["--instance", &a]);
    assert_eq!(code, 0, "{raw}");
    let inst = &rows(&export, "jira_instance")[0];
    assert_eq!(inst["public_id"], a.as_str());
    assert_eq!(inst["shared_secret"], "<encrypted, 1 value>");
    assert_eq!(rows(&export, "user_mapping").len(), 2);
    assert_eq!(rows(&export, "access_token").len(), 4);
    assert!(
        rows(&export, "jsm_portal_app").is_empty(),
        "B's portal app is not A's"
    );
    let mut secrets = secrets_of(ALICE);
    secrets.extend(secrets_of(BOB));
    secrets.extend([a_secret, b_secret]);
    assert_no_secret(&raw, &secrets);
    assert!(!raw.contains(CAROL));
}

#[actix_web::test]
async fn erasing_a_user_removes_all_of_theirs_nothing_else_and_leaves_a_tombstone() {
    let (app, (a, _), (b, _)) = world().await;
    let mut conn = app.db.conn();
    let (_, alice, _) = export_cli(&app, &["--user", &format!("{a}:{ALICE}")]);
    let (_, bob_before, _) = export_cli(&app, &["--user", &format!("{a}:{BOB}")]);
    let (_, carol_before, _) = export_cli(&app, &["--user", &format!("{b}:{CAROL}")]);
    let before = counts(&mut conn);

    let (code, out, err) = run_cli(
        &["erase", "--user", &format!("{a}:{ALICE}"), "--yes"],
        &cli_env(&app),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("user_mapping: 1 row(s)"), "{out}");
    assert!(
        err.contains("access_token: 2 row(s)"),
        "progress per table: {err}"
    );

    let after = counts(&mut conn);
    for t in TABLES {
        // the shared access Alice set on Bob's chat stays (Bob's), with her name cleared
        let expected = match *t {
            "shared_chat_access" => 1,
            "instance_setting" => 0,
            _ => rows(&alice, t).len() as i64,
        };
        assert_eq!(before[t] - after[t], expected, "{t}");
    }
    let (code, _, raw) = export_cli(&app, &["--user", &format!("{a}:{ALICE}")]);
    assert_eq!(
        code, 1,
        "nothing left about Alice (audit rows aside): {raw}"
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM shared_chat_access WHERE set_by = '{ALICE}'")
        ),
        0
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM instance_setting WHERE updated_by = '{ALICE}'")
        ),
        0
    );
    // Bob and Carol: the same rows as before (Bob's chat's shared access only lost Alice's name)
    let (_, bob_after, _) = export_cli(&app, &["--user", &format!("{a}:{BOB}")]);
    let (_, carol_after, _) = export_cli(&app, &["--user", &format!("{b}:{CAROL}")]);
    for t in TABLES {
        assert_eq!(
            rows(&bob_after, t).len(),
            rows(&bob_before, t).len(),
            "bob {t}"
        );
        if *t != "shared_chat_access" {
            assert_eq!(rows(&bob_after, t), rows(&bob_before, t), "bob {t}");
        }
        assert_eq!(rows(&carol_after, t), rows(&carol_before, t), "carol {t}");
    }
    // the tombstone: who, what, counts; no Microsoft id or name of hers
    #[derive(QueryableByName)]
    struct Tomb {
        #[diesel(sql_type = diesel::sql_types::Text)]
        actor_kind: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        secret_label: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        detail: Option<String>,
    }
    let t: Tomb = diesel::sql_query(
        "SELECT actor_kind, secret_label, detail FROM secret_access_audit WHERE secret_kind = 'erasure'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(t.actor_kind, "cli");
    assert_eq!(t.secret_label, format!("{a}:{ALICE}"));
    let detail = t.detail.unwrap();
    assert!(
        detail.contains("user_mapping=1") && detail.contains("access_token=2"),
        "{detail}"
    );
    assert!(
        !detail.contains(ALICE_OID) && !detail.contains("-teams"),
        "{detail}"
    );
}

#[actix_web::test]
async fn erase_without_yes_or_of_an_unknown_user_changes_nothing() {
    let (app, (a, _), _) = world().await;
    let mut conn = app.db.conn();
    let before = counts(&mut conn);
    let audit = scalar(&mut conn, "SELECT count(*) AS n FROM secret_access_audit");

    let (code, out, err) = run_cli(
        &["erase", "--user", &format!("{a}:{ALICE}")],
        &cli_env(&app),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("would erase") && out.contains("access_token: 2 row(s)"),
        "{out}"
    );
    assert!(err.contains("--yes"), "{err}");

    let (code, _, err) = run_cli(
        &["erase", "--user", &format!("{a}:JIRAUSER99999"), "--yes"],
        &cli_env(&app),
    );
    assert_eq!(code, 1);
    assert!(err.contains("nothing is stored about"), "{err}");
    let (code, _, err) = run_cli(&["erase", "--instance", "ZZZZZZ", "--yes"], &cli_env(&app));
    assert_eq!(code, 1);
    assert!(
        err.contains("no Jira instance has the public ID ZZZZZZ"),
        "{err}"
    );
    let (code, _, err) = run_cli(&["export", "--user", "no-colon-here"], &cli_env(&app));
    assert_eq!(code, 2);
    assert!(err.contains("<public_id>:<jira_user_key>"), "{err}");
    let (code, _, _) = run_cli(
        &["erase", "--user", "x:y", "--instance", "x"],
        &cli_env(&app),
    );
    assert_eq!(code, 2, "both targets at once is a usage error");

    assert_eq!(counts(&mut conn), before);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) AS n FROM secret_access_audit"),
        audit
    );
}

#[actix_web::test]
async fn the_admin_erases_a_user_only_with_the_typed_key_and_a_valid_form() {
    let (app, (a, _), _) = world().await;
    let mut conn = app.db.conn();
    let a_id = instance_id(&mut conn, &a);
    let alice = UserMapping::find(&mut conn, a_id, ALICE).unwrap().unwrap();
    let page = app.get("/admin/users").await.text().await.unwrap();
    assert!(page.contains(&format!("/admin/users/{}/erase", alice.id)));

    let res = app.get(&format!("/admin/users/{}/export", alice.id)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = res.text().await.unwrap();
    assert_no_secret(&body, &secrets_of(ALICE));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["tables"]["user_mapping"][0]["jira_user_key"],
        ALICE
    );

    let before = counts(&mut conn);
    let path = format!("/admin/users/{}/erase", alice.id);
    let res = app.post_raw(&path, &[("confirm", ALICE)]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    let res = app.post_form(&path, &[("confirm", BOB)]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not match; nothing was erased")
    );
    assert_eq!(counts(&mut conn), before);

    let page = app.get(&path).await.text().await.unwrap();
    assert!(
        page.contains("<code>user_mapping</code>: 1 row(s)"),
        "{page}"
    );
    let res = app.post_form(&path, &[("confirm", ALICE)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/users?notice=erased");
    assert!(
        UserMapping::find(&mut conn, alice.jira_instance_id, ALICE)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM secret_access_audit WHERE secret_kind = 'erasure' AND actor_kind = 'admin' AND actor = 'admin'"
        ),
        1
    );
}

#[actix_web::test]
async fn deleting_an_instance_in_the_admin_ui_erases_it_with_a_tombstone_and_spares_the_other() {
    let (app, (a, _), (b, _)) = world().await;
    let mut conn = app.db.conn();
    let a_id = instance_id(&mut conn, &a);
    let (_, carol_before, _) = export_cli(&app, &["--user", &format!("{b}:{CAROL}")]);
    let res = app.get(&format!("/admin/instances/{a_id}/export")).await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_form(
            &format!("/admin/instances/{a_id}/delete"),
            &[("confirm", &a)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let after = counts(&mut conn);
    assert_eq!(after["jira_instance"], 1);
    assert_eq!(after["user_mapping"], 1);
    // Teams-side rows of Alice and Bob went with their only instance; Carol's stayed
    assert_eq!(after["teams_user_setting"], 1);
    assert_eq!(after["bot_membership"], 1);
    assert_eq!(after["bot_action"], 1);
    let (_, carol_after, _) = export_cli(&app, &["--user", &format!("{b}:{CAROL}")]);
    for t in TABLES {
        assert_eq!(rows(&carol_after, t), rows(&carol_before, t), "carol {t}");
    }
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM secret_access_audit WHERE secret_kind = 'erasure' \
          AND secret_table = 'jira_instance' AND secret_label = '{a}' AND detail LIKE '%user_mapping=2%'"
            )
        ),
        1
    );
}

#[actix_web::test]
async fn teams_settings_stay_while_another_instance_links_the_same_microsoft_user() {
    let (app, (a, _), (b, _)) = world().await;
    let mut conn = app.db.conn();
    // Alice's Microsoft account is linked in B too
    let b_id = instance_id(&mut conn, &b);
    UserMapping::link(
        &mut conn,
        &NewLink {
            instance: b_id,
            jira_user_key: "alice-b",
            jira_user_name: "Alice",
            ms_tenant_id: TENANT.parse().unwrap(),
            ms_user_id: ALICE_OID.parse().unwrap(),
            ms_user_name: "Alice",
        },
    )
    .unwrap();
    let (code, out, _) = run_cli(
        &["erase", "--user", &format!("{a}:{ALICE}"), "--yes"],
        &cli_env(&app),
    );
    assert_eq!(code, 0);
    assert!(out.contains("still linked in another instance"), "{out}");
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM teams_user_setting WHERE teams_user_id = '29:{ALICE}-teams'"
            )
        ),
        1
    );
}
