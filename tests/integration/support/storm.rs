//! A storm world: `CHATS` group chats linked to one issue with the bot installed in each, the
//! Bot Connector double on TLS, and what the tests of Teams' rate limits check in what the
//! double saw (every card once, `Retry-After` kept, sends per second).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::bot::{BotWorld, bot_world_with};
use super::webhook::{post_fixture, webhook_path};
use super::world::{ISSUE, install_bot, link_issue_chat};
use crate::fakes::entra::TENANT_ID;

/// How many chats a storm world has.
pub const CHATS: usize = 30;
/// The webhooks a storm sends, each to every chat.
pub const EVENTS: [&str; 3] = ["issue_created", "issue_updated", "issue_commented"];

/// A [`BotWorld`] (derefs to it) with `CHATS` chats linked to ABC-1.
pub struct Storm {
    base: BotWorld,
    hook: String,
    chats: Vec<String>,
}

impl std::ops::Deref for Storm {
    type Target = BotWorld;
    fn deref(&self) -> &BotWorld {
        &self.base
    }
}

/// `CHATS` group chats linked to issue 10045, the bot installed in each, the tenant limited to
/// `rate` sends per second.
pub async fn storm_world(rate: u32) -> Storm {
    let base = bot_world_with(|s| {
        s.outbound.bot_rps_per_tenant = rate;
        // a retry waits for its `Retry-After` all the same; without one, not the 5 s default
        s.outbox.backoff_base_ms = 200;
    })
    .await;
    let chats: Vec<String> = (0..CHATS)
        .map(|i| format!("19:storm-{i:02}@thread.v2"))
        .collect();
    let mut conn = base.w.conn();
    for chat in &chats {
        // the chats exist in Teams and the bot was told of its installation (issue 5)
        link_issue_chat(&mut conn, base.w.instance_id, ISSUE, chat);
        install_bot(&mut conn, chat, TENANT_ID, &base.bot.service_url());
    }
    let hook = webhook_path(&base.w).await;
    Storm { base, hook, chats }
}

impl Storm {
    /// Posts each of `EVENTS` once.
    pub async fn send_events(&self) {
        for name in EVENTS {
            post_fixture(&self.w.app, &self.hook, name).await;
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
