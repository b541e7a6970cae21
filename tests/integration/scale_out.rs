//! Two `serve` processes on one database, as behind a load balancer (issue 6): they start at the
//! same moment and migrate once, the one-time setup token is used once, a session made on one is
//! valid on the other, and queued deliveries are delivered exactly once between them.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use crate::fakes;
use crate::support::app::TempDir;
use crate::support::cli::run_cli;
use crate::support::daemon::wait_ready;
use crate::support::daemon::{daemon_env, free_port, serve};
use crate::support::db::TestDb;
use crate::support::wait::outbox_settled;
use crate::support::webhook::fixture;
use crate::support::world::install_bot;

const ORIGIN: &str = "http://bridge.test";
const ITEMS: usize = 30;

/// A browser: cookies (shared by both daemons' host, as behind one load-balanced name).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Submits the setup form on one daemon with `token`; returns the status.
async fn set_up(b: &reqwest::Client, port: u16, token: &str) -> u16 {
    let base = format!("http://127.0.0.1:{port}");
    let page = b
        .get(format!("{base}/setup?token={token}"))
        .send()
        .await
        .unwrap();
    let csrf = page
        .cookies()
        .find(|c| c.name() == "jtb_csrf")
        .map(|c| c.value().to_owned())
        .expect("csrf cookie");
    let password = "correct horse battery staple";
    b.post(format!("{base}/setup"))
        .header("Origin", ORIGIN)
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token),
            ("username", "admin"),
            ("password", password),
            ("password_confirm", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn two_daemons_on_one_database_migrate_once_share_sessions_and_never_deliver_twice() {
    use jira_teams_bridge::crypto::Vault;
    use jira_teams_bridge::db::models::jira_instance::JiraInstance;
    use jira_teams_bridge::db::models::outbox::OutboxItem;
    use jira_teams_bridge::domain::{JiraBaseUrl, SharedSecret};

    let dir = TempDir::new();
    let (cert, key, _) = crate::support::tls::self_signed(&dir.0);
    let (_, entra) = fakes::entra::start(3600);
    let (bot_addr, bot) = fakes::bot::start_tls(entra.clone(), &cert, &key);
    // an empty database: both daemons find it unmigrated
    let db = TestDb::empty();
    let state_dir = TempDir::new();
    // the key every host of the installation shares (copied to each, or one credential)
    Vault::open(&state_dir.0.join("master-key"), true).unwrap();
    let (a, b) = (free_port(), free_port());
    let env = |port: u16| {
        let mut env = daemon_env(
            &db.url,
            &state_dir.0,
            port,
            &entra.base,
            &bot_addr.to_string(),
            &cert,
        );
        env.extend([
            ("JTB__LISTEN__INTERNAL_URL", ORIGIN.to_owned()),
            (
                "JTB__MICROSOFT__BOT_APP_ID",
                fakes::entra::CLIENT_ID.to_owned(),
            ),
            ("JTB__OUTBOX__LEASE_SECS", "10".to_owned()),
        ]);
        env
    };
    let (log_a, log_b) = (state_dir.0.join("a.log"), state_dir.0.join("b.log"));
    let mut first = serve(&env(a), &log_a);
    let mut second = serve(&env(b), &log_b);
    wait_ready(a, &log_a).await;
    wait_ready(b, &log_b).await;

    // migrations ran once: every migration recorded exactly once
    let mut conn = db.conn();
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        versions: i64,
    }
    let c: Counts = diesel::sql_query(
        "SELECT count(*) AS rows, count(DISTINCT version) AS versions FROM __diesel_schema_migrations",
    )
    .get_result(&mut conn)
    .unwrap();
    let dirs = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count() as i64;
    assert_eq!((c.rows, c.versions), (dirs, dirs));

    // the one-time setup token works once, whichever daemon gets it
    let (_, url, _) = run_cli(&["setup-url"], &env(a));
    let token = url
        .trim()
        .split("token=")
        .nth(1)
        .expect("a setup URL")
        .to_owned();
    let (ba, bb) = (browser(), browser());
    let both = [(ba.clone(), a), (bb.clone(), b)].map(|(client, port)| {
        let token = token.clone();
        actix_web::rt::spawn(async move { set_up(&client, port, &token).await })
    });
    let [ta, tb] = both;
    let (sa, sb) = (ta.await.unwrap(), tb.await.unwrap());
    let mut statuses = [sa, sb];
    statuses.sort();
    assert_eq!(statuses[0], 303, "{statuses:?}");
    assert!((400..500).contains(&statuses[1]), "{statuses:?}");
    let (winner, other) = if sa == 303 { (&ba, b) } else { (&bb, a) };
    // ... and its admin session is valid on the other daemon
    let res = winner
        .get(format!("http://127.0.0.1:{other}/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the session works on the other daemon");
    assert!(res.text().await.unwrap().contains("Log out"));

    // deliveries queued for both: each chat gets its card exactly once
    let (vault, _) = Vault::open(&state_dir.0.join("master-key"), false).unwrap();
    let instance = JiraInstance::create(
        &mut conn,
        &vault,
        &JiraBaseUrl::parse("https://jira.example.com").unwrap(),
        &SharedSecret::generate(),
    )
    .unwrap();
    let event = jira_teams_bridge::domain::jira_event::parse(&fixture("issue_updated"))
        .unwrap()
        .unwrap();
    for i in 0..ITEMS {
        let chat = format!("19:scale{i}@thread.v2");
        install_bot(
            &mut conn,
            &chat,
            fakes::entra::TENANT_ID,
            &bot.service_url(),
        );
        OutboxItem::enqueue(
            &mut conn,
            jira_teams_bridge::db::models::outbox_kind::CHAT_NOTIFICATION,
            Some(instance.id),
            &format!("scale:{chat}"),
            &json!({"chatId": chat, "event": event}),
        )
        .unwrap();
    }
    let until = Instant::now() + Duration::from_secs(60);
    while bot.received.lock().unwrap().len() < ITEMS {
        assert!(Instant::now() < until, "not every card arrived");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    outbox_settled(&db.url, 10).await;
    for i in 0..ITEMS {
        assert_eq!(bot.received_for(&format!("19:scale{i}@thread.v2")).len(), 1);
    }
    let owners: Vec<Option<String>> = {
        use jira_teams_bridge::db::schema::outbox;
        outbox::table
            .filter(outbox::status.eq("done"))
            .select(outbox::lease_owner)
            .load(&mut conn)
            .unwrap()
    };
    assert_eq!(owners.len(), ITEMS);
    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
