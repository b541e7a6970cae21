//! Schema-driven testing of `/api/v1`: schemathesis generates requests from the served OpenAPI
//! document, `tests/schema/hooks.py` signs each one as the Jira app would, and every answer must
//! be documented (status, content type, body schema) and no answer may be a server error.
//!
//! The world is realistic so that generated requests reach real rows, not only 404s: a linked
//! Alice and Bob, an issue chat with messages in the Graph double, a hidden issue, a stored
//! setting, a portal app and a Teams user's settings; the hooks steer some path parameters to
//! these rows, and the test fails unless every operation was answered with success at least
//! once (else its success body would never have been checked against the schema).
//!
//! Not enabled: `ignored_auth` (the hooks sign every request, including the ones that check
//! refused tokens: tests/integration/api_auth.rs covers those), `unsupported_method` (actix
//! answers an undeclared method with 404, not 405), and the positive/negative acceptance checks
//! (whether a schema-valid request succeeds depends on the world's rows, not on the document).
//!
//! schemathesis comes from `tests/schema/install.sh` (a pinned virtualenv under
//! `target/py-tools`) or `JTB_SCHEMATHESIS`; `JTB_SCHEMA_SEED` and `JTB_SCHEMA_MAX_EXAMPLES`
//! change the run (defaults: a fixed seed, so CI is repeatable).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::support::world::{
    ALICE_KEY, BOB_KEY, BOB_OID, CAROL_KEY, ISSUE, World, api, create_chat, linked_world,
};
use jira_teams_bridge::db::models::teams_user_setting::TeamsUserSetting;
use serde_json::{Value, json};

const PORTAL_APP: &str = "69000be7-4659-4659-900e-3cebf257ec5a";
const TEAMS_USER: &str = "29:1kMGTDT5TEcT9yJp2yUl_yl5SeYBGOsDnuLbWqDxLlBI";
/// Dave is linked only to be unlinked: `DELETE /me` is signed as him alone.
const DAVE_KEY: &str = "JIRAUSER10400";
const DAVE_OID: &str = "5a0e7c4e-3f7d-4c55-8d33-2b1f3f6c9a10";

/// The schemathesis binary: `JTB_SCHEMATHESIS`, else the one `tests/schema/install.sh` puts in
/// `target/py-tools`. Missing is a failure that says how to install it, never a skip.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("JTB_SCHEMATHESIS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-tools/bin/schemathesis"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "schemathesis not found at {}: run tests/schema/install.sh (or set JTB_SCHEMATHESIS)",
        path.display()
    );
    path
}

/// The linking world plus the rows listed in the module doc; returns it and the chat's id.
async fn schema_world() -> (World, String) {
    let w = linked_world().await;
    w.entra
        .add_user(DAVE_OID, "dave@contoso.example", "Dave Davis");
    w.jira.add_user(DAVE_KEY, "dave", "dave (Jira)");
    assert_eq!(w.link(DAVE_KEY, DAVE_OID).await.0, 200);
    w.jira
        .add_issue(10046, "ABC-2", "Hidden from Alice", &[ALICE_KEY]);
    let chat = create_chat(&w).await;
    w.graph.seed_messages(&chat, 5, BOB_OID);
    let (status, body) = api(
        &w,
        "PUT",
        "/api/v1/settings/appearance",
        ALICE_KEY,
        Some(json!({"viewLocation": "issueSidebar", "quickCreateEnabled": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api(
        &w,
        "PUT",
        &format!("/api/v1/jsm/portal-apps/{PORTAL_APP}"),
        ALICE_KEY,
        Some(json!({"icon": "icon3", "deskIds": ["14"], "tabName": "Helpdesk"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    TeamsUserSetting::merge(
        &mut w.conn(),
        TEAMS_USER,
        &json!({"notifications": {"watcher": false}}),
    )
    .unwrap();
    (w, chat)
}

/// `(operation, status)` counts from the hooks' log of answers.
fn answers(log: &str) -> BTreeMap<String, BTreeMap<u16, usize>> {
    let mut seen: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    for line in log.lines() {
        let mut fields = line.split(' ');
        let (Some(method), Some(path), Some(status)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        *seen
            .entry(format!("{method} {path}"))
            .or_default()
            .entry(status.parse().unwrap())
            .or_default() += 1;
    }
    seen
}

#[actix_web::test]
async fn every_generated_signed_request_is_answered_as_the_openapi_document_describes() {
    let binary = schemathesis();
    let (w, chat) = schema_world().await;
    let known = json!({
        "issue_id": [ISSUE.to_string(), "10046"],
        "chat_id": [chat.clone()],
        "name": ["appearance"],
        "portal_app_id": [PORTAL_APP],
        "teams_user_id": [TEAMS_USER],
        "jiraUser": [ALICE_KEY, BOB_KEY],
        "upn": ["carol@contoso.example"],
        // an unlinked chat can come back: the hooks may link it again
        "chatId": [chat],
    });
    let spec: Value = w
        .app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let log = w.app.state_dir.0.join("answers.log");
    let base = w.app.base.clone();
    let mut cmd = Command::new(binary);
    cmd.current_dir(&w.app.state_dir.0)
        .args(["run", &format!("{base}/api/v1/openapi.json"), "--url", &base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .arg(format!(
            "--max-examples={}",
            std::env::var("JTB_SCHEMA_MAX_EXAMPLES").unwrap_or_else(|_| "40".into())
        ))
        .arg(format!(
            "--seed={}",
            std::env::var("JTB_SCHEMA_SEED").unwrap_or_else(|_| "20261126".into())
        ))
        // one worker: CPython 3.11's ast module is not thread-safe (cpython#106905), and
        // hypothesis parses source while building strategies; it also keeps runs repeatable
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--generation-with-security-parameters", "false"])
        .env(
            "SCHEMATHESIS_HOOKS",
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schema/hooks.py"),
        )
        .env("JTB_SCHEMA_BASE_URL", &base)
        .env("JTB_SCHEMA_PUBLIC_ID", &w.jira_app.public_id)
        .env("JTB_SCHEMA_SECRET", &w.jira_app.secret)
        .env("JTB_SCHEMA_USERS", [ALICE_KEY, BOB_KEY, CAROL_KEY].join(","))
        .env("JTB_SCHEMA_KNOWN", known.to_string())
        .env(
            "JTB_SCHEMA_SIGN_AS",
            json!({"DELETE /api/v1/me": DAVE_KEY}).to_string(),
        )
        .env("JTB_SCHEMA_LOG", &log);
    let started = Instant::now();
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("schemathesis starts");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "schemathesis ran {:.1} s:\n{report}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "schemathesis found problems ({}); its report is above",
        out.status
    );
    let seen = answers(&std::fs::read_to_string(&log).unwrap_or_default());
    for (operation, statuses) in &seen {
        eprintln!("{operation:70} {statuses:?}");
    }
    let mut never_succeeded = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let operation = format!("{} {path}", method.to_uppercase());
            let succeeded = seen
                .get(&operation)
                .is_some_and(|s| s.keys().any(|status| (200..300).contains(status)));
            if !succeeded {
                never_succeeded.push(operation);
            }
        }
    }
    assert!(
        never_succeeded.is_empty(),
        "never answered with success, so their success bodies went unchecked: {never_succeeded:?}"
    );
}
