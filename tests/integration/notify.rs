//! Issue events from Jira webhooks delivered by the bot to the linked Teams chats, through the
//! Bot Connector double on HTTPS: the card, blocked chats, throttling, untrusted service URLs,
//! and a SIGKILL of the real daemon while deliveries are in flight.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use crate::fakes::entra::TENANT_ID;
use crate::fakes::{self, bot::Scripted};
use crate::support::app::TempDir;
use crate::support::bot::{BotWorld, bot_world_with};
use crate::support::daemon::{daemon_env, free_port, serve};
use crate::support::wait::{eventually, outbox_settled};
use crate::support::webhook::fixture;
use crate::support::webhook::{post_fixture, webhook_path};
use crate::support::world::{ALICE_KEY, BOB_KEY};
use crate::support::world::{create_chat_with_bob, install_bot, link_alice_and_bob};

/// A bot world with ABC-1 linked to a chat of Alice and Bob where the bot is installed.
struct Setup {
    b: BotWorld,
    chat: String,
    hook_path: String,
}

impl std::ops::Deref for Setup {
    type Target = BotWorld;
    fn deref(&self) -> &BotWorld {
        &self.b
    }
}

async fn setup() -> Setup {
    // a failed send is retried after its `Retry-After` all the same; without one, in 0.2 s
    let b = bot_world_with(|s| s.outbox.backoff_base_ms = 200).await;
    link_alice_and_bob(&b.w).await;
    let chat = create_chat_with_bob(&b.w).await;
    // Teams tells the bot about the installation (issue 5); here the row is written directly
    install_bot(&mut b.w.conn(), &chat, TENANT_ID, &b.bot.service_url());
    let hook_path = webhook_path(&b.w).await;
    Setup { b, chat, hook_path }
}

/// Statuses of the chat deliveries (the fan-out to people and channels has its own rows).
fn outbox_status(s: &Setup) -> Vec<String> {
    use jira_teams_bridge::db::schema::outbox;
    let mut conn = s.w.conn();
    outbox::table
        .filter(outbox::kind.eq("chat_notification"))
        .order(outbox::id)
        .select(outbox::status)
        .load(&mut conn)
        .unwrap()
}

#[actix_web::test]
async fn an_issue_event_arrives_in_the_linked_chat_as_a_card_within_seconds() {
    let s = setup().await;
    let t = Instant::now();
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    eventually("the card", 10, || !s.bot.received_for(&s.chat).is_empty()).await;
    let latency = t.elapsed();
    let a = &s.bot.received_for(&s.chat)[0];
    let card = &a["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let text = card["content"].to_string();
    assert!(text.contains("ABC-1"), "{text}");
    assert!(
        text.contains(&format!("{}/browse/ABC-1", s.w.jira.base)),
        "{text}"
    );
    assert!(latency < Duration::from_secs(5), "{latency:?}");
    eventually("the outbox to record it", 5, || {
        outbox_status(&s) == ["done"]
    })
    .await;
    // a repeat of the same delivery from Jira sends nothing new
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    outbox_settled(&s.w.app.db.url, 10).await;
    assert_eq!(s.bot.received_for(&s.chat).len(), 1);
}

#[actix_web::test]
async fn a_chat_that_blocked_the_bot_gets_nothing_more() {
    let s = setup().await;
    s.bot.script(&[Scripted::Blocked]);
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    eventually("the failed delivery", 10, || outbox_status(&s) == ["dead"]).await;
    let mut conn = s.w.conn();
    let status: String = jira_teams_bridge::db::schema::bot_membership::table
        .select(jira_teams_bridge::db::schema::bot_membership::status)
        .first(&mut conn)
        .unwrap();
    assert_eq!(status, "messageWritesBlocked");
    let attempts = s.bot.attempts.lock().unwrap().len();
    post_fixture(&s.w.app, &s.hook_path, "issue_created").await;
    eventually("the second item to fail", 10, || {
        outbox_status(&s) == ["dead", "dead"]
    })
    .await;
    assert_eq!(
        s.bot.attempts.lock().unwrap().len(),
        attempts,
        "no request to a blocked chat"
    );
    let html = s.w.app.get("/admin/outbox").await.text().await.unwrap();
    assert!(html.contains("blocked the bot"), "the admin sees why");
}

#[actix_web::test]
async fn a_throttled_bot_connector_is_retried_after_retry_after_not_before() {
    let s = setup().await;
    s.bot
        .script(&[Scripted::Throttled(2), Scripted::Status(502)]);
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    // each failure goes back to the outbox (no in-call retry): after Retry-After, then ~0.4 s
    eventually("the card", 30, || !s.bot.received_for(&s.chat).is_empty()).await;
    let attempts = s.bot.attempts.lock().unwrap().clone();
    assert!(attempts.len() >= 3, "{attempts:?}");
    assert!(
        attempts[1].0 - attempts[0].0 >= Duration::from_secs(2),
        "a retry came before Retry-After"
    );
}

#[actix_web::test]
async fn a_service_url_off_the_allow_list_is_never_called() {
    let s = setup().await;
    let mut conn = s.w.conn();
    diesel::sql_query("UPDATE bot_membership SET service_url = 'https://evil.example/amer/'")
        .execute(&mut conn)
        .unwrap();
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    eventually("the failed delivery", 10, || outbox_status(&s) == ["dead"]).await;
    assert!(s.bot.attempts.lock().unwrap().is_empty());
    let html = s.w.app.get("/admin/outbox").await.text().await.unwrap();
    assert!(html.contains("not on the allow-list"), "{html}");
}

#[actix_web::test]
async fn deliveries_in_flight_when_the_daemon_is_killed_are_delivered_once_their_lease_expires() {
    use jira_teams_bridge::crypto::Vault;
    use jira_teams_bridge::db::models::jira_instance::JiraInstance;
    use jira_teams_bridge::db::models::outbox::OutboxItem;
    use jira_teams_bridge::domain::{JiraBaseUrl, SharedSecret};

    const ITEMS: usize = 6;
    const LEASE_SECS: u64 = 5;
    let dir = TempDir::new();
    let (cert, key, _) = crate::support::tls::self_signed(&dir.0);
    let (_, entra) = fakes::entra::start(3600);
    let (bot_addr, bot) = fakes::bot::start_tls(entra.clone(), &cert, &key);
    let db = crate::support::db::TestDb::migrated();
    let state_dir = TempDir::new();

    // the data a running appliance would have: an instance, chats with the bot, queued events
    let (vault, _) = Vault::open(&state_dir.0.join("master-key"), true).unwrap();
    let mut conn = db.conn();
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
    let chats: Vec<String> = (0..ITEMS)
        .map(|i| format!("19:crash{i}@thread.v2"))
        .collect();
    for chat in &chats {
        install_bot(&mut conn, chat, TENANT_ID, &bot.service_url());
        OutboxItem::enqueue(
            &mut conn,
            jira_teams_bridge::db::models::outbox_kind::CHAT_NOTIFICATION,
            Some(instance.id),
            &format!("crash:{chat}"),
            &json!({"chatId": chat, "event": event}),
        )
        .unwrap();
    }

    let port = free_port();
    let mut env = daemon_env(
        &db.url,
        &state_dir.0,
        port,
        &entra.base,
        &bot_addr.to_string(),
        &cert,
    );
    env.push(("JTB__OUTBOX__LEASE_SECS", LEASE_SECS.to_string()));
    env.push(("JTB__LOG__LEVEL", "info".to_owned()));
    let log = state_dir.0.join("serve.log");

    // first life: every delivery is claimed and in flight (the Bot Connector is slow) — then SIGKILL
    bot.delay_ms
        .store(30_000, std::sync::atomic::Ordering::SeqCst);
    let mut first = serve(&env, &log);
    let until = Instant::now() + Duration::from_secs(30);
    while bot.attempts.lock().unwrap().len() < ITEMS {
        assert!(
            Instant::now() < until,
            "deliveries did not start; daemon log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let leased: i64 = {
        use jira_teams_bridge::db::schema::outbox;
        outbox::table
            .filter(outbox::lease_owner.is_not_null())
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(
        leased, ITEMS as i64,
        "the dead daemon still holds every lease"
    );
    assert!(
        bot.received.lock().unwrap().is_empty(),
        "nothing was delivered before the kill"
    );

    // second life: leases expire, every item is delivered exactly once
    bot.delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    let mut second = serve(&env, &log);
    eventually("every delivery after the restart", 60, || {
        bot.received.lock().unwrap().len() >= ITEMS
    })
    .await;
    let mut got: Vec<String> = bot
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, c, _)| c.clone())
        .collect();
    got.sort();
    let mut want = chats.clone();
    want.sort();
    assert_eq!(got, want, "each chat got its card once");
    let first_try = bot.attempts.lock().unwrap()[0].0;
    for (at, _, _) in bot.received.lock().unwrap().iter() {
        assert!(
            *at - first_try >= Duration::from_secs(LEASE_SECS) - Duration::from_millis(200),
            "re-delivered before the lease expired"
        );
    }
    eventually("the outbox to record it", 10, || {
        use jira_teams_bridge::db::schema::outbox;
        let statuses: Vec<String> = outbox::table
            .select(outbox::status)
            .load(&mut db.conn())
            .unwrap();
        statuses.iter().all(|s| s == "done")
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    drop(conn);
}

#[actix_web::test]
async fn a_card_too_big_is_shortened_and_a_chat_without_the_bot_fails_for_good() {
    let s = setup().await;
    s.bot.script(&[Scripted::TooBig]);
    post_fixture(&s.w.app, &s.hook_path, "issue_updated").await;
    eventually("the shortened card", 10, || {
        !s.bot.received_for(&s.chat).is_empty()
    })
    .await;
    let card = s.bot.received_for(&s.chat)[0]["attachments"][0]["content"].clone();
    assert!(
        !card.to_string().contains("Changed:"),
        "the change list was dropped: {card}"
    );
    assert!(card.to_string().contains("ABC-1"));
    s.bot.script(&[Scripted::NotInstalled]);
    post_fixture(&s.w.app, &s.hook_path, "issue_created").await;
    eventually("the failed delivery", 10, || {
        outbox_status(&s) == ["done", "dead"]
    })
    .await;
    let html = s.w.app.get("/admin/outbox").await.text().await.unwrap();
    assert!(html.contains("not installed"), "{html}");
}

#[actix_web::test]
async fn a_restricted_comment_reaches_a_chat_only_when_every_member_may_read_it() {
    let s = setup().await;
    let comment = |id: &str, ts: i64| {
        json!({
            "timestamp": ts, "webhookEvent": "comment_created",
            "comment": {"id": id, "body": "internal note",
                        "updateAuthor": {"key": "dave", "displayName": "Dave"},
                        "visibility": {"type": "role", "value": "Developers"}},
            "issue": {"id": "10045", "key": "ABC-1", "fields": {"summary": "Printer on fire"}},
        })
    };
    let post = |body: serde_json::Value| {
        let (client, url) = (s.w.app.client.clone(), s.w.app.url(&s.hook_path));
        async move {
            let res = client.post(url).json(&body).send().await.unwrap();
            assert!(res.status().is_success());
        }
    };
    // Alice may read the first comment, Bob may not: the chat (Alice and Bob) gets nothing
    s.w.jira.add_comment(10045, "20001", Some(&[ALICE_KEY]));
    post(comment("20001", 1)).await;
    eventually("the outbox to finish", 10, || outbox_status(&s) == ["done"]).await;
    assert!(s.bot.received_for(&s.chat).is_empty());
    // both may read the second: its card arrives
    s.w.jira
        .add_comment(10045, "20002", Some(&[ALICE_KEY, BOB_KEY]));
    post(comment("20002", 2)).await;
    eventually("the card", 10, || s.bot.received_for(&s.chat).len() == 1).await;
}
