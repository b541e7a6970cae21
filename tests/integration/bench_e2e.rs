//! End-to-end benchmark (ignored in normal runs; `tests/bench/run.sh` runs it on a release
//! build): the real daemon binary as its own process, Jira events posted to its webhook at a
//! fixed rate, latency from the webhook's 2xx to the card's arrival at the Bot Connector
//! double (HTTPS); then the highest rate it sustains with p99 under 1 s, and the daemon's
//! resident memory (its own /proc status) idle and at that rate.
//!
//! The daemon paces Bot Connector calls per tenant (`outbound.bot_rps_per_tenant`, at most 50)
//! and per conversation (Teams' 7/s, 60 per 30 s): the events are spread over `TENANTS` tenants
//! and `CHATS` chats, one issue per chat, so the benchmark measures the daemon, not the caps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes;
use crate::support::app::TempDir;
use crate::support::bench::{secs, write_results};
use crate::support::daemon::serve;
use crate::support::world::install_bot;

const TENANTS: usize = 20;
const CHATS: usize = 400;

/// VmRSS and VmHWM of a process, in MiB.
pub fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .map_or(0.0, |v| v.parse::<f64>().unwrap() / 1024.0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

fn body(n: u64) -> Value {
    let i = n % CHATS as u64;
    json!({
        "timestamp": 1_000 + n, "webhookEvent": "jira:issue_updated",
        "user": {"key": "dave", "name": "dave", "displayName": "Dave"},
        "issue": {"id": (20_000 + i).to_string(), "key": format!("BEN-{i}"),
                  "fields": {"summary": format!("bench event {n}"), "project": {"key": "BEN"}}},
        "changelog": {"id": n.to_string(), "items": [{"field": "priority"}]},
    })
}

/// The event number a card was made from (its summary).
fn event_of(card: &Value) -> Option<u64> {
    let text = card.to_string();
    let at = text.find("bench event ")? + "bench event ".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

struct Step {
    rate: u64,
    sent: usize,
    delivered: usize,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
}

/// Posts events `from..from + rate * secs` at `rate` per second (open loop: each post starts at
/// its time, whether or not earlier ones were answered), then waits up to 10 s for their cards.
async fn step(url: &str, bot: &fakes::bot::Bot, pid: u32, from: u64, rate: u64, secs: u64) -> Step {
    // the queue left by an earlier step that was not sustained drains first (up to a minute)
    let until = Instant::now() + Duration::from_secs(60);
    while bot.received.lock().unwrap().len() < from as usize && Instant::now() < until {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::new();
    let count = rate * secs;
    let accepted: Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Default::default();
    let start = Instant::now();
    let mut posts = Vec::new();
    for k in 0..count {
        let due = start + Duration::from_nanos(k * 1_000_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            actix_web::rt::time::sleep(wait).await;
        }
        let (client, url, accepted) = (client.clone(), url.to_owned(), accepted.clone());
        let n = from + k;
        posts.push(actix_web::rt::spawn(async move {
            let res = client.post(&url).json(&body(n)).send().await;
            if res.is_ok_and(|r| r.status().is_success()) {
                accepted.lock().unwrap().insert(n, Instant::now());
            }
        }));
    }
    for p in posts {
        p.await.unwrap();
    }
    let rss = rss_mib(pid).0;
    let until = Instant::now() + Duration::from_secs(10);
    let range = from..from + count;
    let arrivals = loop {
        let got: HashMap<u64, Instant> = bot
            .received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(t, _, card)| Some((event_of(card)?, *t)))
            .filter(|(n, _)| range.contains(n))
            .collect();
        if got.len() >= count as usize || Instant::now() > until {
            break got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let accepted = accepted.lock().unwrap().clone();
    let mut lat: Vec<Duration> = accepted
        .iter()
        .map(|(n, at)| {
            arrivals.get(n).map_or(Duration::from_secs(3600), |t| {
                t.saturating_duration_since(*at)
            })
        })
        .collect();
    lat.sort();
    let at = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .map_or(f64::INFINITY, |d| d.as_secs_f64() * 1000.0)
    };
    Step {
        rate,
        sent: count as usize,
        delivered: arrivals.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        rss_mib: rss,
    }
}

fn sustained(s: &Step) -> bool {
    s.delivered == s.sent && s.p99_ms < 1000.0
}

#[actix_web::test]
#[ignore = "benchmark: run with tests/bench/run.sh"]
async fn bench_end_to_end() {
    use jira_teams_bridge::crypto::Vault;
    use jira_teams_bridge::db::models::jira_instance::JiraInstance;
    use jira_teams_bridge::domain::{JiraBaseUrl, SharedSecret};

    let secs = secs();
    let quick = std::env::var("JTB_BENCH_QUICK").is_ok_and(|v| v == "1");
    let dir = TempDir::new();
    let (cert, key, _) = crate::support::tls::self_signed(&dir.0);
    let (_, entra) = fakes::entra::start(3600);
    let (bot_addr, bot) = fakes::bot::start_tls(entra.clone(), &cert, &key);
    let db = crate::support::db::TestDb::migrated();
    let state_dir = TempDir::new();
    let (vault, _) = Vault::open(&state_dir.0.join("master-key"), true).unwrap();
    let mut conn = db.conn();
    let instance = JiraInstance::create(
        &mut conn,
        &vault,
        &JiraBaseUrl::parse("https://jira.example.com").unwrap(),
        &SharedSecret::generate(),
    )
    .unwrap();
    let token = "bench-webhook-token";
    diesel::sql_query("UPDATE jira_instance SET webhook_token_hash = $1 WHERE id = $2")
        .bind::<diesel::sql_types::Bytea, _>(jira_teams_bridge::crypto::random::token_hash(token))
        .bind::<diesel::sql_types::Uuid, _>(instance.id)
        .execute(&mut conn)
        .unwrap();
    for i in 0..CHATS {
        let chat = format!("19:bench{i}@thread.v2");
        // fixed tenant IDs: the same spread every run
        let tenant = format!("00000000-0000-4000-8000-{:012}", i % TENANTS);
        install_bot(&mut conn, &chat, &tenant, &bot.service_url());
        diesel::sql_query(
            "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
             VALUES (gen_random_uuid(), $1, $2, 'JIRAUSER10100', $3)",
        )
        .bind::<diesel::sql_types::Uuid, _>(instance.id)
        .bind::<diesel::sql_types::Int8, _>(20_000 + i as i64)
        .bind::<diesel::sql_types::Text, _>(&chat)
        .execute(&mut conn)
        .unwrap();
    }
    let port = crate::support::daemon::free_port();
    let mut env = crate::support::daemon::daemon_env(
        &db.url,
        &state_dir.0,
        port,
        &entra.base,
        &bot_addr.to_string(),
        &cert,
    );
    env.push(("JTB__LOG__LEVEL", "warn".to_owned()));
    let log = state_dir.0.join("serve.log");
    let mut daemon = serve(&env, &log);
    let pid = daemon.id();
    let base = format!("http://127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < until,
            "daemon not ready: {:?}",
            std::fs::read_to_string(&log)
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let (idle_rss, _) = rss_mib(pid);
    let url = format!("{base}/webhooks/jira/{}?token={token}", instance.public_id);

    // warm-up (connections, token, caches), not counted
    let mut next = 0u64;
    let warm = step(&url, &bot, pid, next, 50, 2).await;
    next += warm.sent as u64;
    assert_eq!(warm.delivered, warm.sent, "warm-up cards missing");

    let fixed = step(&url, &bot, pid, next, 50, secs).await;
    next += fixed.sent as u64;

    // search: double while sustained, then one step halfway between the last two
    let mut steps = Vec::new();
    let mut rate = 100;
    let max_rate = if quick { 400 } else { 1600 };
    let (mut good, mut bad) = (None::<u64>, None::<u64>);
    while rate <= max_rate {
        let s = step(&url, &bot, pid, next, rate, secs).await;
        next += s.sent as u64;
        let ok = sustained(&s);
        steps.push(s);
        if !ok {
            bad = Some(rate);
            break;
        }
        good = Some(rate);
        rate *= 2;
    }
    if let (Some(g), Some(b)) = (good, bad) {
        let s = step(&url, &bot, pid, next, (g + b) / 2, secs).await;
        if sustained(&s) {
            good = Some(s.rate);
        }
        steps.push(s);
    }
    let best = steps
        .iter()
        .rfind(|s| Some(s.rate) == good)
        .map_or(0.0, |s| s.rss_mib);
    let (_, hwm) = rss_mib(pid);
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    let mut md = String::from(
        "| rate events/s | events | cards delivered | p50 ms | p99 ms | daemon RSS MiB | sustained (all delivered, p99 < 1 s) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut rows = Vec::new();
    // a card still missing after 10 s counts as an hour late: such a percentile is shown as such
    let ms = |v: f64| {
        if v >= 3_600_000.0 {
            "cards missing".to_owned()
        } else {
            format!("{v:.1}")
        }
    };
    for (label, s) in std::iter::once(("fixed ", &fixed)).chain(steps.iter().map(|s| ("", s))) {
        md += &format!(
            "| {label}{} | {} | {} | {} | {} | {:.0} | {} |\n",
            s.rate,
            s.sent,
            s.delivered,
            ms(s.p50_ms),
            ms(s.p99_ms),
            s.rss_mib,
            if sustained(s) { "yes" } else { "no" }
        );
        rows.push(
            json!({"rate": s.rate, "fixed": label == "fixed ", "events": s.sent,
            "delivered": s.delivered, "p50_ms": s.p50_ms, "p99_ms": s.p99_ms,
            "rss_mib": s.rss_mib, "sustained": sustained(s)}),
        );
    }
    md += &format!(
        "\nHighest sustained rate: **{} events/s** ({} tenants, {} chats). Daemon RSS: {idle_rss:.0} MiB idle, {best:.0} MiB at that rate, peak {hwm:.0} MiB.\n",
        good.unwrap_or(0),
        TENANTS,
        CHATS
    );
    write_results(
        "e2e",
        &md,
        &json!({"seconds_per_step": secs, "tenants": TENANTS, "chats": CHATS, "steps": rows,
                "highest_sustained_rate": good.unwrap_or(0), "idle_rss_mib": idle_rss,
                "rss_at_highest_mib": best, "peak_rss_mib": hwm}),
    );
    drop(conn);
}
