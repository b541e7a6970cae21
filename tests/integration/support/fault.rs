//! What the fault-injection suite's tests share: an appliance laid out directly in a database
//! (a Jira instance taking webhooks with a URL token, issues each linked to a chat the bot is
//! installed in, spread over tenants) for the real daemon binary, the webhook bodies, counting
//! the cards the Bot Connector double got, and the `FAULT-SUMMARY` line.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web;
use diesel::prelude::*;
use serde_json::json;

use super::app::TempDir;
use super::daemon::daemon_env;
use super::tls::self_signed;
use super::world::{install_bot, link_issue_chat};
use crate::fakes::{self, bot::Bot, entra::Entra};

/// Prints the line `tests/fault/run.sh` collects (shown with `--nocapture`).
pub fn summary(
    fault: &str,
    accepted: usize,
    delivered: usize,
    lost: usize,
    dups: usize,
    bound: &str,
) {
    println!("FAULT-SUMMARY|{fault}|{accepted}|{delivered}|{lost}|{dups}|{bound}");
}

/// The webhook URL token of every appliance laid out here.
const HOOK_TOKEN: &str = "fault-suite-webhook-token";

/// An appliance's data in a migrated database, and the doubles it talks to.
pub struct Appliance {
    pub db_url: String,
    pub state_dir: TempDir,
    pub entra: web::Data<Entra>,
    pub bot: web::Data<Bot>,
    bot_addr: std::net::SocketAddr,
    ca_file: String,
    public_id: String,
    _certs: TempDir,
}

/// Issue ids of the appliance's linked issues start here.
pub const ISSUE_BASE: u64 = 30_000;

/// Lays out an appliance in the migrated database at `db_url`: `chats` issues each linked to
/// its own group chat with the bot installed, the chats spread over `tenants` tenants (Teams'
/// pacing is per tenant).
pub fn appliance(db_url: &str, chats: usize, tenants: usize) -> Appliance {
    use jira_teams_bridge::crypto::{Vault, random};
    use jira_teams_bridge::db::models::jira_instance::JiraInstance;
    use jira_teams_bridge::domain::{JiraBaseUrl, SharedSecret};

    let certs = TempDir::new();
    let (cert, key, _) = self_signed(&certs.0);
    let (_, entra) = fakes::entra::start(3600);
    let (bot_addr, bot) = fakes::bot::start_tls(entra.clone(), &cert, &key);
    let state_dir = TempDir::new();
    let (vault, _) = Vault::open(&state_dir.0.join("master-key"), true).unwrap();
    let mut conn = PgConnection::establish(db_url).unwrap();
    let instance = JiraInstance::create(
        &mut conn,
        &vault,
        &JiraBaseUrl::parse("https://jira.example.com").unwrap(),
        &SharedSecret::generate(),
    )
    .unwrap();
    JiraInstance::set_webhook_token_hash(
        &mut conn,
        instance.id,
        Some(&random::token_hash(HOOK_TOKEN)),
    )
    .unwrap();
    let chats: Vec<String> = (0..chats)
        .map(|i| format!("19:fault-{i:04}@thread.v2"))
        .collect();
    for (i, chat) in chats.iter().enumerate() {
        let tenant = format!("00000000-0000-4000-8000-{:012}", i % tenants.max(1));
        link_issue_chat(&mut conn, instance.id, ISSUE_BASE + i as u64, chat);
        install_bot(&mut conn, chat, &tenant, &bot.service_url());
    }
    Appliance {
        db_url: db_url.to_owned(),
        state_dir,
        entra,
        bot,
        bot_addr,
        ca_file: cert,
        public_id: instance.public_id,
        _certs: certs,
    }
}

impl Appliance {
    /// The daemon's environment: this database, state dir and doubles, listening on `port`.
    pub fn env(&self, port: u16, lease_secs: u64) -> Vec<(&'static str, String)> {
        let mut env = daemon_env(
            &self.db_url,
            &self.state_dir.0,
            port,
            &self.entra.base,
            &self.bot_addr.to_string(),
            &self.ca_file,
        );
        env.extend([
            ("JTB__DATABASE__CONNECT_TIMEOUT_SECS", "2".to_owned()),
            ("JTB__OUTBOX__LEASE_SECS", lease_secs.to_string()),
            ("JTB__LOG__LEVEL", "info".to_owned()),
        ]);
        env
    }

    /// The path (with its token) Jira posts webhooks to.
    pub fn hook_path(&self) -> String {
        format!("/webhooks/jira/{}?token={HOOK_TOKEN}", self.public_id)
    }

    /// How many cards of each webhook `seq` the double received (absent: none).
    pub fn cards_by_seq(&self) -> HashMap<usize, usize> {
        let mut got = HashMap::new();
        for (_, _, activity) in self.bot.received.lock().unwrap().iter() {
            if let Some(seq) = seq_of(&activity.to_string()) {
                *got.entry(seq).or_insert(0) += 1;
            }
        }
        got
    }

    /// Counts the cards against the webhooks in `accepted`: (webhooks with a card, accepted ones
    /// without a card, cards beyond the first of a webhook).
    pub fn tally(&self, accepted: &[usize]) -> (usize, usize, usize) {
        let got = self.cards_by_seq();
        let lost = accepted.iter().filter(|s| !got.contains_key(s)).count();
        let dups = got.values().map(|n| n - 1).sum();
        (got.len(), lost, dups)
    }
}

/// A `jira:issue_updated` webhook for the appliance's issue `issue` (an index), number `seq`;
/// the summary carries the number so that its card can be told apart.
pub fn webhook_body(issue: usize, seq: usize) -> serde_json::Value {
    let id = ISSUE_BASE + issue as u64;
    json!({
        "timestamp": 1_764_100_000_000_i64 + seq as i64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"name": "bob", "key": "JIRAUSER10200", "displayName": "Bob B", "active": true},
        "issue": {"id": id.to_string(), "key": format!("FLT-{id}"),
                  "fields": {"summary": format!("Fault item seq{seq:06}q"), "status": {"name": "Open"}}},
        "changelog": {"id": (500_000 + seq).to_string(),
                      "items": [{"field": "status", "fieldtype": "jira", "from": "1",
                                 "fromString": "Open", "to": "3", "toString": "In Progress"}]},
    })
}

/// The webhook number a card carries (see [`webhook_body`]).
fn seq_of(card: &str) -> Option<usize> {
    let at = card.find("Fault item seq")? + "Fault item seq".len();
    card.get(at..at + 6)?.parse().ok()
}

/// Posts webhook `seq` (about issue `seq % issues`); its HTTP status, or 0 when no answer came.
pub async fn post_webhook(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    issues: usize,
    seq: usize,
) -> u16 {
    client
        .post(format!("{base}{path}"))
        .json(&webhook_body(seq % issues, seq))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Posts webhooks `seqs` (about `issues` issues) 16 at a time; the numbers that got a 2xx.
pub async fn post_all(
    base: &str,
    path: &str,
    issues: usize,
    seqs: std::ops::Range<usize>,
) -> Vec<usize> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(seqs.start));
    let mut senders = Vec::new();
    for _ in 0..16 {
        let (next, base, path, end) = (next.clone(), base.to_owned(), path.to_owned(), seqs.end);
        senders.push(actix_web::rt::spawn(async move {
            let client = reqwest::Client::new();
            let mut ok = Vec::new();
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seq >= end {
                    return ok;
                }
                if (200..300).contains(&post_webhook(&client, &base, &path, issues, seq).await) {
                    ok.push(seq);
                }
            }
        }));
    }
    let mut accepted = Vec::new();
    for s in senders {
        accepted.extend(s.await.unwrap());
    }
    accepted.sort_unstable();
    accepted
}
