//! Relay overhead benchmark (ignored in normal runs; `tests/bench/relay-overhead.sh` runs it on
//! a release build): one page of chat messages read through the appliance (`/api/v1/.../messages`,
//! signed JWT, token from the vault cache, Graph call, sanitising) versus straight from the Graph
//! double with the same token, same process, same run. Prints a markdown table with ratios.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_auth::{claims, sign};
use crate::linking::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, world};

struct Stats {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

fn stats(mut lat: Vec<Duration>, wall: Duration) -> Stats {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        per_sec: lat.len() as f64 / wall.as_secs_f64(),
    }
}

async fn run<F, Fut>(total: usize, concurrency: usize, one: F) -> Stats
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let one = one.clone();
            actix_web::rt::spawn(async move {
                let mut lat = Vec::new();
                for _ in 0..total / concurrency {
                    let t = Instant::now();
                    one().await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    stats(all, started.elapsed())
}

#[actix_web::test]
#[ignore = "benchmark: run with tests/bench/relay-overhead.sh"]
async fn bench_relay_overhead() {
    let total: usize = std::env::var("JTB_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let w = world().await;
    w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    w.link(ALICE_KEY, ALICE_OID).await;
    w.link(BOB_KEY, BOB_OID).await;
    let res = crate::api_auth::call(
        &w.app,
        &w.jira_app,
        "POST",
        "/api/v1/issues/10045/chats/create",
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
    )
    .await;
    let chat = res.json::<serde_json::Value>().await.unwrap()["chatId"]
        .as_str()
        .unwrap()
        .to_owned();
    w.graph.seed_messages(&chat, 50, BOB_OID);
    let token = w
        .entra
        .tokens
        .lock()
        .unwrap()
        .iter()
        .find(|(_, t)| t.oid.as_deref() == Some(ALICE_OID) && !t.revoked)
        .map(|(k, _)| k.clone())
        .unwrap();
    let client = reqwest::Client::new();
    let direct_url = format!("{}/v1.0/chats/{chat}/messages?$top=20", w.graph.base);
    let path = format!("/api/v1/issues/10045/chats/{chat}/messages?limit=20");
    let app_url = w.app.url(&path);
    let (secret, public_id) = (w.jira_app.secret.clone(), w.jira_app.public_id.clone());

    println!("| concurrency | path | requests/s | p50 | p99 |");
    println!("|---|---|---|---|---|");
    for concurrency in [1usize, 8] {
        let (c, u, t) = (client.clone(), direct_url.clone(), token.clone());
        let direct = run(total, concurrency, move || {
            let (c, u, t) = (c.clone(), u.clone(), t.clone());
            async move {
                let r = c.get(&u).bearer_auth(&t).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        })
        .await;
        let (c, u, p, s, j) = (
            client.clone(),
            app_url.clone(),
            path.clone(),
            secret.clone(),
            public_id.clone(),
        );
        let relayed = run(total, concurrency, move || {
            let (c, u, p, s, j) = (c.clone(), u.clone(), p.clone(), s.clone(), j.clone());
            async move {
                let jira = crate::api_auth::Jira {
                    public_id: j,
                    secret: s.clone(),
                };
                let jwt = sign(&s, &claims(&jira, "GET", &p, ALICE_KEY));
                let r = c
                    .get(&u)
                    .header("Authorization", format!("JWT {jwt}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
            }
        })
        .await;
        for (name, s) in [
            ("Graph double, direct", &direct),
            ("through the appliance", &relayed),
        ] {
            println!(
                "| {concurrency} | {name} | {:.0} | {:.2} ms | {:.2} ms |",
                s.per_sec,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3
            );
        }
        println!(
            "| {concurrency} | ratio appliance/direct | {:.2} | {:.2} | {:.2} |",
            relayed.per_sec / direct.per_sec,
            relayed.p50.as_secs_f64() / direct.p50.as_secs_f64(),
            relayed.p99.as_secs_f64() / direct.p99.as_secs_f64()
        );
    }
}

/// Webhook-to-card latency (issue 5): Jira events at a steady rate, each to an issue linked to
/// one of 20 chats, from the webhook's 2xx to the card's arrival at the Bot Connector double;
/// then a burst, for sustained notifications per second; the process's resident memory before
/// and after. Reference in the same run: the same card posted straight to the double.
#[actix_web::test]
#[ignore = "benchmark: run with tests/bench/notify-latency.sh"]
async fn bench_notification_latency() {
    use diesel::prelude::*;

    const CHATS: u64 = 20;
    let rate: u64 = std::env::var("JTB_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let events: u64 = std::env::var("JTB_BENCH_EVENTS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    let s = crate::bot_endpoint::setup().await;
    let hook = crate::fanout::webhook_path(&s.w).await;
    {
        let mut conn = s.w.conn();
        for i in 0..CHATS {
            let chat = format!("19:bench{i}@thread.v2");
            diesel::sql_query(
                "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) \
                 VALUES (gen_random_uuid(), $1, $2::uuid, 'groupChat', $3, 'installationAdded')",
            )
            .bind::<diesel::sql_types::Text, _>(&chat)
            .bind::<diesel::sql_types::Text, _>(crate::fakes::entra::TENANT_ID)
            .bind::<diesel::sql_types::Text, _>(s.bot.service_url())
            .execute(&mut conn)
            .unwrap();
            diesel::sql_query(
                "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
                 VALUES (gen_random_uuid(), $1, $2, 'JIRAUSER10100', $3)",
            )
            .bind::<diesel::sql_types::Uuid, _>(s.w.instance_id)
            .bind::<diesel::sql_types::Int8, _>(20_000 + i as i64)
            .bind::<diesel::sql_types::Text, _>(&chat)
            .execute(&mut conn)
            .unwrap();
        }
    }
    let body = |n: u64| {
        let i = n % CHATS;
        json!({
            "timestamp": 1_000 + n, "webhookEvent": "jira:issue_updated",
            "user": {"key": "dave", "name": "dave", "displayName": "Dave"},
            "issue": {"id": (20_000 + i).to_string(), "key": format!("BEN-{i}"),
                      "fields": {"summary": "Benchmark issue", "project": {"key": "BEN"}}},
            "changelog": {"id": n.to_string(), "items": [{"field": "priority"}]},
        })
    };
    let client = reqwest::Client::new();
    let url = s.w.app.url(&hook);
    let received = |s: &crate::bot_endpoint::Setup| s.bot.received.lock().unwrap().len();
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024)
            .unwrap()
    };
    let rss_before = rss();

    // steady rate: one event every 1/rate s; latency = card arrival - webhook accepted
    let period = Duration::from_micros(1_000_000 / rate);
    let mut accepted = Vec::new();
    let start = Instant::now();
    for n in 0..events {
        let due = start + period * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            actix_web::rt::time::sleep(wait).await;
        }
        let res = client.post(&url).json(&body(n)).send().await.unwrap();
        assert!(res.status().is_success());
        accepted.push(Instant::now());
    }
    let until = Instant::now() + Duration::from_secs(60);
    while received(&s) < events as usize {
        assert!(Instant::now() < until, "cards missing: {}", received(&s));
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    // the k-th card of a chat answers the k-th event of that chat (order is kept per chat)
    let arrivals: Vec<(Instant, String)> = s
        .bot
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(t, c, _)| (*t, c.clone()))
        .collect();
    let mut per_chat: std::collections::HashMap<String, Vec<Instant>> = Default::default();
    for (t, c) in arrivals {
        per_chat.entry(c).or_default().push(t);
    }
    let mut lat = Vec::new();
    let mut seen: std::collections::HashMap<u64, usize> = Default::default();
    for (n, at) in accepted.iter().enumerate() {
        let i = n as u64 % CHATS;
        let k = seen.entry(i).or_default();
        let arrived = per_chat[&format!("19:bench{i}@thread.v2")][*k];
        *k += 1;
        lat.push(arrived.saturating_duration_since(*at));
    }
    let steady = stats(lat, start.elapsed());
    let rss_steady = rss();

    // burst: as fast as the webhook takes them, then until every card is in
    let burst = events;
    let already = received(&s);
    let t = Instant::now();
    let posts: Vec<_> = (0..8u64)
        .map(|w| {
            let (client, url) = (client.clone(), url.clone());
            let bodies: Vec<Value> = (0..burst / 8)
                .map(|j| body(events + w * (burst / 8) + j))
                .collect();
            actix_web::rt::spawn(async move {
                for b in bodies {
                    let res = client.post(&url).json(&b).send().await.unwrap();
                    assert!(res.status().is_success());
                }
            })
        })
        .collect();
    for p in posts {
        p.await.unwrap();
    }
    let intake = t.elapsed();
    let until = Instant::now() + Duration::from_secs(120);
    while received(&s) < already + (burst / 8 * 8) as usize {
        assert!(Instant::now() < until, "burst cards missing");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = t.elapsed();
    let rss_burst = rss();

    // reference: the same card straight to the double (token from the fake Entra, TLS)
    let card = jira_teams_bridge::domain::card::issue_activity(
        &jira_teams_bridge::domain::jira_event::parse(body(0).to_string().as_bytes())
            .unwrap()
            .unwrap(),
        "https://jira.example.com",
        false,
    );
    let token: Value = client
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            s.bot.entra.base,
            crate::fakes::entra::TENANT_ID
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", crate::fakes::entra::CLIENT_ID),
            ("client_secret", crate::fakes::entra::CLIENT_SECRET),
            ("scope", "https://api.botframework.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let direct = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let send_url = format!(
        "{}v3/conversations/19%3Aref%40thread.v2/activities",
        s.bot.service_url()
    );
    let mut ref_lat = Vec::new();
    let t = Instant::now();
    for _ in 0..200 {
        let t1 = Instant::now();
        let res = direct
            .post(&send_url)
            .bearer_auth(&token)
            .json(&card)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        ref_lat.push(t1.elapsed());
    }
    let reference = stats(ref_lat, t.elapsed());
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("\n| measure | value | reference (direct post to the double) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| steady {rate} events/s, {events} events: p50 | {} | {} | {:.1} |",
        ms(steady.p50),
        ms(reference.p50),
        steady.p50.as_secs_f64() / reference.p50.as_secs_f64()
    );
    println!(
        "| steady: p99 | {} | {} | {:.1} |",
        ms(steady.p99),
        ms(reference.p99),
        steady.p99.as_secs_f64() / reference.p99.as_secs_f64()
    );
    println!(
        "| burst of {} events: webhook intake | {:.0} events/s | | |",
        burst / 8 * 8,
        (burst / 8 * 8) as f64 / intake.as_secs_f64()
    );
    println!(
        "| burst: sustained delivery | {:.0} cards/s | {:.0} posts/s (one sender) | {:.2} |",
        (burst / 8 * 8) as f64 / drained.as_secs_f64(),
        reference.per_sec,
        (burst / 8 * 8) as f64 / drained.as_secs_f64() / reference.per_sec
    );
    println!(
        "| process RSS (appliance + doubles + harness) | {rss_before} MB idle, {rss_steady} MB after steady, {rss_burst} MB after burst | | |"
    );
}
