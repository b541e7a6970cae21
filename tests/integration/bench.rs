//! Relay overhead benchmark (ignored in normal runs; `tests/bench/relay-overhead.sh` runs it on
//! a release build): one page of chat messages read through the appliance (`/api/v1/.../messages`,
//! signed JWT, token from the vault cache, Graph call, sanitising) versus straight from the Graph
//! double with the same token, same process, same run. Prints a markdown table with ratios.

use std::time::{Duration, Instant};

use serde_json::json;

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
