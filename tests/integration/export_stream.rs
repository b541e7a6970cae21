//! Exports stream: `export --instance` writes a large instance with memory that does not grow
//! with it (the process's peak RSS is bounded while it writes every row), and the admin
//! download streams a user's export whole while a second export waits its turn (503 with
//! `Retry-After`), the slot freed once a download ends or is abandoned.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::app::{TestApp, spawn_app};
use crate::support::cli::{cli_command, cli_env};
use crate::support::db::exec;
use crate::support::world::instance_id;
use diesel::prelude::*;
use serde::Deserialize;
use serde::de::IgnoredAny;
use uuid::Uuid;

const ALICE: &str = "JIRAUSER10100";
const BOB: &str = "JIRAUSER10200";

/// The peak the export process may reach (the old in-memory export of the same rows: ~1 GB).
const PEAK_BOUND_KIB: u64 = 64 * 1024;

#[derive(Deserialize)]
struct OutboxRow {
    id: i64,
}

#[derive(Deserialize)]
struct Tables {
    outbox: Vec<OutboxRow>,
    #[serde(flatten)]
    rest: BTreeMap<String, Vec<IgnoredAny>>,
}

/// An export read without keeping its rows (only the outbox ids).
#[derive(Deserialize)]
struct Export {
    subject: serde_json::Value,
    #[serde(rename = "exportedAt")]
    exported_at: String,
    tables: Tables,
    notes: BTreeMap<String, String>,
}

/// `n` delivered outbox rows of the instance with ~1 KB payloads, the event's actor being
/// `actor(g)` (an SQL expression over the row number `g`).
fn seed_outbox(conn: &mut PgConnection, instance: Uuid, n: i64, actor: &str) {
    exec(
        conn,
        &format!(
            "INSERT INTO outbox (kind, jira_instance_id, payload, status) \
             SELECT 'chat_notification', '{instance}', jsonb_build_object('chatId', '19:chat' || g || '@thread.v2', \
                    'event', jsonb_build_object('issue_id', g, 'summary', repeat(md5(g::text), 28), \
                              'involved', jsonb_build_object('actor_key', {actor}))), 'done' \
               FROM generate_series(1, {n}) g"
        ),
    );
}

fn outbox_ids(conn: &mut PgConnection, filter: &str) -> Vec<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query(format!("SELECT id FROM outbox WHERE {filter} ORDER BY id"))
        .load::<Id>(conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// The process's peak resident set so far (KiB), while it runs.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn instance_app() -> (TestApp, String, Uuid) {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, _) = app.register_instance("https://jira-big.example.com").await;
    let id = instance_id(&mut app.db.conn(), &public_id);
    (app, public_id, id)
}

#[actix_web::test]
async fn an_instance_export_writes_every_row_with_flat_memory() {
    let (app, public_id, instance) = instance_app().await;
    let mut conn = app.db.conn();
    seed_outbox(&mut conn, instance, 200_000, "'JIRAUSER' || (g % 5000)");
    exec(&mut conn, "ANALYZE outbox");
    let expected = outbox_ids(&mut conn, &format!("jira_instance_id = '{instance}'"));

    let (mut cmd, _config) = cli_command(&["export", "--instance", &public_id], &cli_env(&app));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = peak_rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let parsed: Result<Export, _> = serde_json::from_reader(BufReader::new(stdout));
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let export = parsed.expect("the export is one JSON document");
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "instance export of {} outbox rows: peak RSS {} KiB, {:?}",
        expected.len(),
        peak,
        started.elapsed()
    );

    assert_eq!(export.subject["kind"], "instance");
    assert_eq!(export.subject["instance"], public_id.as_str());
    assert!(chrono::DateTime::parse_from_rfc3339(&export.exported_at).is_ok());
    let ids: Vec<i64> = export.tables.outbox.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 200_000);
    assert_eq!(ids, expected, "every outbox row, once, in id order");
    assert_eq!(export.tables.rest["jira_instance"].len(), 1);
    assert!(export.tables.rest.contains_key("secret_access_audit"));
    assert!(export.notes.contains_key("outbox"));
    assert!(stderr.contains("outbox: 200000 row(s)"), "{stderr}");
    assert!(peak > 0, "the watcher saw the process");
    assert!(
        peak < PEAK_BOUND_KIB,
        "the export's peak RSS grew with the instance: {peak} KiB"
    );
}

/// A linked user of the instance; returns the link's id.
fn link(conn: &mut PgConnection, instance: Uuid, key: &str, n: u8) -> Uuid {
    let id = Uuid::new_v4();
    exec(
        conn,
        &format!(
            "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) \
             VALUES ('{id}', '{instance}', '{key}', '72f988bf-86f1-41af-91ab-2d7cd011db47', \
                     '3f2504e0-4f89-41d3-9a0c-0305e82c33{n:02}')"
        ),
    );
    id
}

async fn body_of(res: reqwest::Response) -> Export {
    let bytes = res.bytes().await.unwrap();
    serde_json::from_slice(&bytes).expect("the download is one JSON document")
}

/// GET through the signed-in browser, sent once more when the server had closed the idle
/// connection the client picked (keep-alive timeout while the test seeded rows; a GET is safe
/// to repeat).
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    match app.client.get(app.url(path)).send().await {
        Ok(res) => res,
        Err(e) if e.is_request() => app.client.get(app.url(path)).send().await.unwrap(),
        Err(e) => panic!("{e}"),
    }
}

#[actix_web::test]
async fn the_admin_download_streams_a_whole_user_export_one_export_at_a_time() {
    let (app, _, instance) = instance_app().await;
    let mut conn = app.db.conn();
    let alice = link(&mut conn, instance, ALICE, 1);
    let bob = link(&mut conn, instance, BOB, 2);
    // ~45 MB of Alice's deliveries: more than the pipes between database, daemon and browser
    // hold, so her download is still running while it is not read
    seed_outbox(&mut conn, instance, 40_000, &format!("'{ALICE}'"));
    seed_outbox(&mut conn, instance, 500, &format!("'{BOB}'"));
    exec(&mut conn, "ANALYZE outbox");
    let alices = outbox_ids(
        &mut conn,
        &format!("payload -> 'event' -> 'involved' ->> 'actor_key' = '{ALICE}'"),
    );

    let mut first = get(&app, &format!("/admin/users/{alice}/export")).await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let head = first.chunk().await.unwrap().expect("a first piece");

    // while Alice's runs, another export is refused cleanly
    let refused = get(&app, &format!("/admin/users/{bob}/export")).await;
    let status = refused.status();
    let retry_after = refused.headers().contains_key("retry-after");
    let page = refused.text().await.unwrap();
    assert_eq!(status, 503, "{page}");
    assert!(retry_after);
    assert!(page.contains("one at a time"), "{page}");

    // Alice's download is complete
    let mut bytes = head.to_vec();
    while let Some(piece) = first.chunk().await.unwrap() {
        bytes.extend_from_slice(&piece);
    }
    let export: Export = serde_json::from_slice(&bytes).expect("one JSON document");
    assert_eq!(export.subject["jiraUserKey"], ALICE);
    let ids: Vec<i64> = export.tables.outbox.iter().map(|r| r.id).collect();
    assert_eq!(ids, alices, "every delivery of Alice's and nobody else's");
    assert_eq!(export.tables.rest["user_mapping"].len(), 1);

    // the slot is free again once a download ended, and once one was abandoned
    let abandoned = get(&app, &format!("/admin/users/{alice}/export")).await;
    assert_eq!(abandoned.status(), 200);
    drop(abandoned);
    let deadline = Instant::now() + Duration::from_secs(60);
    let res = loop {
        let res = get(&app, &format!("/admin/users/{bob}/export")).await;
        if res.status() != 503 || Instant::now() > deadline {
            break res;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(res.status(), 200, "an abandoned download frees its slot");
    let export = body_of(res).await;
    assert_eq!(export.subject["jiraUserKey"], BOB);
    assert_eq!(export.tables.outbox.len(), 500);
}
