//! Erasing a large instance while Jira keeps sending: webhooks of the other instance are answered
//! in their normal time, the erased instance's webhooks are refused at once (not held), and the
//! erase removes every row of the big instance and nothing of the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::app::{TestApp, between, spawn_app};
use crate::support::cli::{cli_env, run_cli};
use crate::support::db::{exec, scalar};
use crate::support::webhook::fixture;
use crate::support::world::instance_id;

/// Outbox rows of the instance erased: enough that erasing them takes seconds.
const BIG: i64 = 300_000;

async fn webhook_url(app: &TestApp, instance: uuid::Uuid) -> String {
    let html = app
        .post_form(&format!("/admin/instances/{instance}/webhook/token"), &[])
        .await
        .text()
        .await
        .unwrap();
    between(
        &html,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    )
    .replace("&amp;", "&")
}

/// Posts the recorded comment event to `url` until `stop`, each a new comment (its
/// own id and timestamp, so its own outbox row); the status and latency of each.
async fn keep_posting(url: String, from: i64, stop: Arc<AtomicBool>) -> Vec<(u16, Duration)> {
    let client = reqwest::Client::new();
    let mut body: serde_json::Value = serde_json::from_slice(&fixture("issue_commented")).unwrap();
    let mut seen = Vec::new();
    let mut at = body["timestamp"].as_i64().unwrap() + from;
    while !stop.load(Ordering::Relaxed) {
        at += 1;
        body["timestamp"] = at.into();
        body["comment"]["id"] = at.to_string().into();
        let t = Instant::now();
        let res = client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        seen.push((res.status().as_u16(), t.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

#[actix_web::test]
async fn erasing_a_large_instance_does_not_hold_up_the_webhooks_of_another() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (big, _) = app.register_instance("https://jira-big.example.com").await;
    let (other, _) = app
        .register_instance("https://jira-other.example.com")
        .await;
    let mut conn = app.db.conn();
    let (big_id, other_id) = (instance_id(&mut conn, &big), instance_id(&mut conn, &other));
    for (id, chat) in [
        (big_id, "19:big@thread.v2"),
        (other_id, "19:other@thread.v2"),
    ] {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
                 VALUES (gen_random_uuid(), '{id}', 10045, 'JIRAUSER10100', '{chat}')"
            ),
        );
    }
    let (big_url, other_url) = (
        webhook_url(&app, big_id).await,
        webhook_url(&app, other_id).await,
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, status, ordering_key) \
             SELECT 'chat_notification', '{big_id}', 'seed-' || g || ':19:big@thread.v2', \
                    jsonb_build_object('chatId', '19:big@thread.v2', 'event', \
                      jsonb_build_object('issue_id', g, 'summary', repeat('x', 200))), \
                    'done', 'conv:19:big@thread.v2' \
               FROM generate_series(1, {BIG}) g"
        ),
    );
    exec(&mut conn, "ANALYZE outbox");
    // the normal latency of the other instance's webhooks, before anything is erased
    // (Jira sends to both all along)
    let stop = Arc::new(AtomicBool::new(false));
    let warm = tokio::spawn(keep_posting(other_url.clone(), 0, stop.clone()));
    let warm_big = tokio::spawn(keep_posting(big_url.clone(), 0, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let normal: Vec<Duration> = warm.await.unwrap().into_iter().map(|s| s.1).collect();
    let normal = p99(normal);
    let warm_big = warm_big.await.unwrap();
    assert!(warm_big.iter().all(|(s, _)| *s == 200), "{warm_big:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let other_load = tokio::spawn(keep_posting(other_url, 1_000_000, stop.clone()));
    let big_load = tokio::spawn(keep_posting(big_url, 1_000_000, stop.clone()));
    // a delivery of the big instance holds one of its rows for 3 s: the erase waits for it,
    // as a large erase spends seconds deleting
    let mut holder = app.db.conn();
    exec(&mut holder, "BEGIN");
    exec(
        &mut holder,
        &format!(
            "SELECT 1 FROM outbox WHERE jira_instance_id = '{big_id}' ORDER BY id LIMIT 1 FOR UPDATE"
        ),
    );
    let held = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        exec(&mut holder, "COMMIT");
    });
    let env = cli_env(&app);
    let erase = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let r = run_cli(&["erase", "--instance", &big, "--yes"], &env);
        (r, t.elapsed())
    });
    let ((code, out, err), took) = erase.await.unwrap();
    held.join().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let other_seen = other_load.await.unwrap();
    let big_seen = big_load.await.unwrap();
    assert_eq!(code, 0, "{out}{err}");

    // the other instance's webhooks kept being accepted, in their normal time
    assert!(
        other_seen.len() >= 5,
        "{} webhooks during {took:?}",
        other_seen.len()
    );
    assert!(other_seen.iter().all(|(s, _)| *s == 200), "{other_seen:?}");
    let during = p99(other_seen.iter().map(|s| s.1).collect());
    let worst = other_seen.iter().map(|s| s.1).max().unwrap();
    eprintln!(
        "erase of {BIG} outbox rows took {took:?}; other instance: {} webhooks, p99 {during:?}, max {worst:?} (normal p99 {normal:?})",
        other_seen.len()
    );
    assert!(
        worst < normal.max(Duration::from_millis(100)) * 5 + Duration::from_millis(500),
        "the other instance's webhooks waited {worst:?} (p99 {during:?}, normal p99 {normal:?}) during an erase of {took:?}"
    );
    // the erased instance's webhooks were answered at once (accepted before the erase began,
    // refused after it), never held until the erase ended
    let big_worst = big_seen.iter().map(|s| s.1).max().unwrap();
    assert!(
        big_worst < Duration::from_secs(2),
        "a webhook of the instance being erased waited {big_worst:?}: {big_seen:?}"
    );
    assert!(
        big_seen.iter().all(|(s, _)| [200, 403, 404].contains(s)),
        "{big_seen:?}"
    );

    let accepted = big_seen.iter().filter(|(s, _)| *s == 200).count();
    assert!(
        out.contains(&format!(
            "outbox: {} row(s)",
            BIG as usize + warm_big.len() + accepted
        )),
        "the report counts every outbox row of the instance, the {accepted} queued during the erase too: {out}"
    );
    // everything of the big instance is gone, the other's rows all stay
    let n = |conn: &mut _, sql: String| scalar(conn, &sql);
    assert_eq!(
        n(
            &mut conn,
            format!("SELECT count(*) AS n FROM outbox WHERE jira_instance_id = '{big_id}'")
        ),
        0
    );
    assert_eq!(
        n(
            &mut conn,
            format!("SELECT count(*) AS n FROM jira_instance WHERE id = '{big_id}'")
        ),
        0
    );
    let other_rows = n(
        &mut conn,
        format!("SELECT count(*) AS n FROM outbox WHERE jira_instance_id = '{other_id}'"),
    );
    assert!(other_rows >= 1, "the other instance's deliveries stay");
    assert_eq!(
        n(
            &mut conn,
            format!("SELECT count(*) AS n FROM issue_chat WHERE jira_instance_id = '{other_id}'")
        ),
        1
    );
}

#[actix_web::test]
async fn an_instance_erase_that_stopped_half_way_leaves_it_disabled_and_a_second_run_finishes_it() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (big, _) = app.register_instance("https://jira-big.example.com").await;
    let mut conn = app.db.conn();
    let id = instance_id(&mut conn, &big);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO outbox (kind, jira_instance_id, payload, status) \
             SELECT 'chat_notification', '{id}', '{{}}', 'done' FROM generate_series(1, 20000)"
        ),
    );
    // an instance row the final transaction cannot delete while another session holds a key
    // share on it (as an insert's foreign-key check does): the erase stops after its batches
    // (lock timeout), the instance stays, disabled, with its deliveries gone
    let mut holder = app.db.conn();
    exec(&mut holder, "BEGIN");
    exec(
        &mut holder,
        &format!("SELECT 1 FROM jira_instance WHERE id = '{id}' FOR KEY SHARE"),
    );
    let mut env = cli_env(&app);
    env.push(("PGOPTIONS", "-c lock_timeout=1000".into()));
    let (code, out, err) = run_cli(&["erase", "--instance", &big, "--yes"], &env);
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM jira_instance WHERE id = '{id}' AND NOT enabled")
        ),
        1,
        "the instance stays, disabled: its webhooks are refused"
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM outbox WHERE jira_instance_id = '{id}'")
        ),
        0,
        "the batches before the failure stay done"
    );
    exec(&mut holder, "ROLLBACK");
    let (code, out, err) = run_cli(&["erase", "--instance", &big, "--yes"], &cli_env(&app));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM jira_instance WHERE id = '{id}'")
        ),
        0
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) AS n FROM outbox"),
        0,
        "{out}"
    );
}

#[actix_web::test]
async fn an_instance_whose_row_is_locked_gets_503_and_does_not_hold_up_the_others() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (locked, _) = app
        .register_instance("https://jira-locked.example.com")
        .await;
    let (other, _) = app
        .register_instance("https://jira-other.example.com")
        .await;
    let mut conn = app.db.conn();
    let (locked_id, other_id) = (
        instance_id(&mut conn, &locked),
        instance_id(&mut conn, &other),
    );
    for (id, chat) in [(locked_id, "19:l@thread.v2"), (other_id, "19:o@thread.v2")] {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
                 VALUES (gen_random_uuid(), '{id}', 10045, 'JIRAUSER10100', '{chat}')"
            ),
        );
    }
    let (locked_url, other_url) = (
        webhook_url(&app, locked_id).await,
        webhook_url(&app, other_id).await,
    );
    // warm: both accepted (and the once-a-minute "last event" mark written)
    let stop = Arc::new(AtomicBool::new(false));
    let a = tokio::spawn(keep_posting(locked_url.clone(), 0, stop.clone()));
    let b = tokio::spawn(keep_posting(other_url.clone(), 0, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    assert!(a.await.unwrap().iter().all(|(s, _)| *s == 200));
    assert!(b.await.unwrap().iter().all(|(s, _)| *s == 200));

    // something (an old-style tool, a long migration) locks the instance row for 4 s
    let mut holder = app.db.conn();
    exec(&mut holder, "BEGIN");
    exec(
        &mut holder,
        &format!("SELECT 1 FROM jira_instance WHERE id = '{locked_id}' FOR UPDATE"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let a = tokio::spawn(keep_posting(locked_url.clone(), 1_000_000, stop.clone()));
    let b = tokio::spawn(keep_posting(other_url, 1_000_000, stop.clone()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let (locked_seen, other_seen) = (a.await.unwrap(), b.await.unwrap());
    exec(&mut holder, "COMMIT");
    assert!(other_seen.len() >= 10, "{other_seen:?}");
    assert!(other_seen.iter().all(|(s, _)| *s == 200), "{other_seen:?}");
    let worst = other_seen.iter().map(|s| s.1).max().unwrap();
    assert!(
        worst < Duration::from_millis(1500),
        "the other instance's webhooks waited {worst:?} behind the locked one"
    );
    // the locked instance is told to come back (503), each within about the lock timeout
    assert!(
        locked_seen.iter().any(|(s, _)| *s == 503),
        "{locked_seen:?}"
    );
    assert!(
        locked_seen
            .iter()
            .all(|(s, d)| *s == 503 && *d < Duration::from_secs(2)),
        "{locked_seen:?}"
    );
    // lock released: accepted again
    let res = reqwest::Client::new()
        .post(&locked_url)
        .header("Content-Type", "application/json")
        .body(fixture("comment_created"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}
