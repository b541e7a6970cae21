//! Teams' rate limits and 429 storms (PROTOCOLS.md §3.6): many chats linked to one issue, the
//! Bot Connector double throttling a share of the sends or everything for a while, and what the
//! double sees: every card exactly once, no conversation retried before its `Retry-After`, and
//! never more sends per second than `outbound.bot_rps_per_tenant` (or 7 per conversation).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::prelude::*;

use crate::fakes::{self, bot::Bot};
use crate::helpers::TempDir;
use crate::linking::{World, world_with_fakes};
use crate::webhooks::fixture;

pub const CHATS: usize = 30;
pub const EVENTS: [&str; 3] = ["issue_created", "issue_updated", "comment_created"];

pub struct Storm {
    pub w: World,
    pub bot: web::Data<Bot>,
    hook: String,
    chats: Vec<String>,
    _dir: TempDir,
}

/// `CHATS` group chats linked to issue 10045, the bot installed in each, the tenant limited to
/// `rate` sends per second.
pub async fn storm_world(rate: u32) -> Storm {
    let dir = TempDir::new();
    let (cert, key, _) = crate::listeners::self_signed(&dir.0);
    let (_, entra) = fakes::entra::start(3600);
    let (_, graph) = fakes::graph::start(entra.clone());
    let (bot_addr, bot) = fakes::bot::start_tls(entra.clone(), &cert, &key);
    let w = world_with_fakes(entra, graph, move |s| {
        s.outbound.ca_file = cert;
        s.microsoft.service_url_hosts = vec![bot_addr.to_string()];
        s.outbound.bot_rps_per_tenant = rate;
    })
    .await;
    let chats: Vec<String> = (0..CHATS)
        .map(|i| format!("19:storm-{i:02}@thread.v2"))
        .collect();
    let mut conn = w.conn();
    for chat in &chats {
        // the chats exist in Teams and the bot was told of its installation (issue 5)
        diesel::sql_query(
            "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
             VALUES (gen_random_uuid(), $1, 10045, 'alice', $2)",
        )
        .bind::<diesel::sql_types::Uuid, _>(w.instance_id)
        .bind::<diesel::sql_types::Text, _>(chat)
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) \
             VALUES (gen_random_uuid(), $1, $2::uuid, 'groupChat', $3, 'installationAdded')",
        )
        .bind::<diesel::sql_types::Text, _>(chat)
        .bind::<diesel::sql_types::Text, _>(fakes::entra::TENANT_ID)
        .bind::<diesel::sql_types::Text, _>(bot.service_url())
        .execute(&mut conn)
        .unwrap();
    }
    let hook = crate::fanout::webhook_path(&w).await;
    Storm {
        w,
        bot,
        hook,
        chats,
        _dir: dir,
    }
}

impl Storm {
    pub async fn send_events(&self) {
        for name in EVENTS {
            let res = self
                .w
                .app
                .client
                .post(self.w.app.url(&self.hook))
                .header("Content-Type", "application/json")
                .body(fixture(name))
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        }
    }

    /// Statuses of the chat deliveries and how many there are of each.
    pub fn outbox(&self) -> HashMap<String, i64> {
        use jira_teams_bridge::db::schema::outbox;
        let mut conn = self.w.conn();
        outbox::table
            .filter(outbox::kind.eq("chat_notification"))
            .group_by(outbox::status)
            .select((outbox::status, diesel::dsl::count_star()))
            .load::<(String, i64)>(&mut conn)
            .unwrap()
            .into_iter()
            .collect()
    }

    /// Waits until every delivery is done (or fails the test with what is left).
    pub async fn settle(&self, secs: u64) {
        let until = Instant::now() + Duration::from_secs(secs);
        let all = (CHATS * EVENTS.len()) as i64;
        loop {
            let now = self.outbox();
            if now.get("done") == Some(&all) {
                return;
            }
            assert!(Instant::now() < until, "deliveries left: {now:?}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every chat got each event's card exactly once.
    pub fn assert_every_card_once(&self) {
        let received = self.bot.received.lock().unwrap().len();
        assert_eq!(received, CHATS * EVENTS.len(), "cards received in all");
        for chat in &self.chats {
            let texts: Vec<String> = self
                .bot
                .received_for(chat)
                .iter()
                .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
                .collect();
            let distinct: HashSet<&String> = texts.iter().collect();
            assert_eq!(texts.len(), EVENTS.len(), "{chat}: {texts:?}");
            assert_eq!(
                distinct.len(),
                EVENTS.len(),
                "{chat} got a card twice: {texts:?}"
            );
        }
    }

    /// No conversation was called again before the `Retry-After` of a 429 (or 503) it got.
    pub fn assert_retry_after_kept(&self) -> usize {
        let attempts = self.bot.attempts.lock().unwrap().clone();
        let throttled = self.bot.throttled.lock().unwrap().clone();
        for (at, conv, retry_after) in &throttled {
            if let Some((next, _)) = attempts.iter().find(|(t, c)| c == conv && t > at) {
                assert!(
                    *next - *at >= *retry_after,
                    "{conv} was called {:?} after a 429 with Retry-After {retry_after:?}",
                    *next - *at
                );
            }
        }
        throttled.len()
    }

    /// The most sends the double saw in any second: in all, and in one conversation.
    pub fn peak_rates(&self) -> (usize, usize) {
        let mut attempts = self.bot.attempts.lock().unwrap().clone();
        attempts.sort_by_key(|(t, _)| *t);
        let times: Vec<Instant> = attempts.iter().map(|(t, _)| *t).collect();
        let mut per_conv: HashMap<&str, Vec<Instant>> = HashMap::new();
        for (t, c) in &attempts {
            per_conv.entry(c.as_str()).or_default().push(*t);
        }
        let conv_peak = per_conv
            .values()
            .map(|ts| max_in_one_second(ts))
            .max()
            .unwrap_or(0);
        (max_in_one_second(&times), conv_peak)
    }
}

/// The most instants (sorted) within any window of one second.
fn max_in_one_second(times: &[Instant]) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_429_storm_over_thirty_chats_delivers_every_card_once_within_teams_limits() {
    const RATE: u32 = 12;
    let s = storm_world(RATE).await;
    // Teams throttles everything for the first 1.5 s of traffic
    s.bot.storm_for(Duration::from_millis(1500), 2);
    let started = Instant::now();
    s.send_events().await;
    s.settle(90).await;
    let took = started.elapsed();
    s.assert_every_card_once();
    let throttled = s.assert_retry_after_kept();
    assert!(
        throttled >= RATE as usize,
        "the storm hit: {throttled} 429s"
    );
    let (peak, conv_peak) = s.peak_rates();
    assert!(
        peak <= RATE as usize,
        "the double saw {peak} sends in one second (limit {RATE})"
    );
    assert!(
        conv_peak <= 7,
        "one conversation got {conv_peak} in a second"
    );
    let sends = s.bot.attempts.lock().unwrap().len();
    println!(
        "storm: {sends} sends ({throttled} throttled) in {took:?}, peak {peak}/s per tenant, {conv_peak}/s per conversation"
    );
    assert_eq!(s.outbox().get("dead"), None, "nothing given up");
}

#[actix_web::test]
async fn a_steady_share_of_429s_is_retried_without_hammering() {
    const RATE: u32 = 20;
    let s = storm_world(RATE).await;
    // one send in five is throttled with Retry-After 1 s (retries included), 20 times
    s.bot.storm_every(5, 20, 1);
    s.send_events().await;
    s.settle(120).await;
    s.assert_every_card_once();
    let throttled = s.assert_retry_after_kept();
    assert_eq!(throttled, 20, "{throttled} 429s");
    let (peak, conv_peak) = s.peak_rates();
    assert!(peak <= RATE as usize, "{peak} sends in one second");
    assert!(conv_peak <= 7, "{conv_peak} in one conversation");
    // each throttled item came back once per 429, no more: retries = 429s
    let sends = s.bot.attempts.lock().unwrap().len();
    assert_eq!(sends, CHATS * EVENTS.len() + throttled, "no extra retries");
}
