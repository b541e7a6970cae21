//! The durable outbox on the real database: no double claims, leases, backoff, dead items and
//! the admin page's retry and discard.

use std::collections::HashSet;

use chrono::Duration;
use jira_teams_bridge::db::models::outbox::OutboxItem;
use serde_json::json;

use crate::support::app::spawn_app;
use crate::support::db::TestDb;

fn fill(db: &TestDb, n: usize) {
    let mut conn = db.conn();
    for i in 0..n {
        assert!(
            OutboxItem::enqueue(
                &mut conn,
                "chat_notification",
                None,
                &format!("k{i}"),
                &json!({"chatId": format!("19:c{i}@thread.v2")})
            )
            .unwrap()
        );
    }
}

#[test]
fn two_runners_on_one_database_never_claim_the_same_item() {
    let db = TestDb::migrated();
    fill(&db, 300);
    let runners: Vec<_> = ["runner-a", "runner-b", "runner-c"]
        .into_iter()
        .map(|owner| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                use diesel::Connection;
                let mut conn = diesel::PgConnection::establish(&url).unwrap();
                let mut mine = Vec::new();
                loop {
                    let batch = OutboxItem::claim(
                        &mut conn,
                        owner,
                        &["chat_notification"],
                        7,
                        Duration::seconds(60),
                    )
                    .unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for item in batch {
                        assert!(OutboxItem::complete(&mut conn, item.id, owner).unwrap());
                        mine.push(item.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut counts = Vec::new();
    for r in runners {
        let ids = r.join().unwrap();
        counts.push(ids.len());
        all.extend(ids);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "every item delivered exactly once");
    assert_eq!(unique.len(), 300, "no item claimed twice");
    let mut conn = db.conn();
    assert_eq!(
        OutboxItem::stats(&mut conn).unwrap().done,
        jira_teams_bridge::db::keyset::RowCount::Exact(300)
    );
}

#[test]
fn an_expired_lease_returns_the_item_to_another_runner() {
    let db = TestDb::migrated();
    fill(&db, 1);
    let mut conn = db.conn();
    let first = OutboxItem::claim(
        &mut conn,
        "crashed",
        &["chat_notification"],
        10,
        Duration::milliseconds(300),
    )
    .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        OutboxItem::claim(
            &mut conn,
            "other",
            &["chat_notification"],
            10,
            Duration::seconds(60)
        )
        .unwrap()
        .is_empty(),
        "leased"
    );
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(OutboxItem::reap_expired_leases(&mut conn).unwrap(), 1);
    let again = OutboxItem::claim(
        &mut conn,
        "other",
        &["chat_notification"],
        10,
        Duration::seconds(60),
    )
    .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert!(
        !OutboxItem::complete(&mut conn, first[0].id, "crashed").unwrap(),
        "the old owner no longer holds it"
    );
    assert!(OutboxItem::complete(&mut conn, again[0].id, "other").unwrap());
    // kinds nobody delivers stay queued
    OutboxItem::enqueue(&mut conn, "future_kind", None, "x", &json!({})).unwrap();
    assert!(
        OutboxItem::claim(
            &mut conn,
            "other",
            &["chat_notification"],
            10,
            Duration::seconds(60)
        )
        .unwrap()
        .is_empty()
    );
}

#[actix_web::test]
async fn failures_back_off_then_die_and_the_admin_can_retry_or_discard() {
    let app = spawn_app().await;
    app.complete_setup().await;
    fill(&app.db, 2);
    let mut conn = app.db.conn();
    for _ in 0..3 {
        for item in OutboxItem::claim(
            &mut conn,
            "r",
            &["chat_notification"],
            10,
            Duration::seconds(60),
        )
        .unwrap()
        {
            assert!(
                OutboxItem::fail(
                    &mut conn,
                    item.id,
                    "r",
                    "403 MessageWritesBlocked <script>",
                    Duration::zero(),
                    3
                )
                .unwrap()
            );
        }
    }
    let stats = OutboxItem::stats(&mut conn).unwrap();
    assert_eq!((stats.dead, stats.pending), (2, 0));
    let html = app.get("/admin/outbox").await.text().await.unwrap();
    assert!(html.contains("<dd id=\"dead\">2</dd>"));
    assert!(
        html.contains("403 MessageWritesBlocked &lt;script&gt;")
            || html.contains("403 MessageWritesBlocked &#60;script&#62;")
    );
    let dead = OutboxItem::dead(&mut conn, 10).unwrap();
    let res = app
        .post_form(&format!("/admin/outbox/{}/retry", dead[0].id), &[])
        .await;
    assert_eq!(
        crate::support::app::location(&res),
        "/admin/outbox?notice=retried"
    );
    let res = app
        .post_form(&format!("/admin/outbox/{}/discard", dead[1].id), &[])
        .await;
    assert_eq!(
        crate::support::app::location(&res),
        "/admin/outbox?notice=discarded"
    );
    let stats = OutboxItem::stats(&mut conn).unwrap();
    assert_eq!((stats.dead, stats.pending), (0, 1));
    assert_eq!(
        app.post_form(&format!("/admin/outbox/{}/discard", dead[1].id), &[])
            .await
            .status(),
        404
    );
    // a backed-off item waits for its time
    let item = OutboxItem::claim(
        &mut conn,
        "r",
        &["chat_notification"],
        10,
        Duration::seconds(60),
    )
    .unwrap();
    assert_eq!(item[0].attempts, 1, "retry gives a fresh attempt budget");
    OutboxItem::fail(&mut conn, item[0].id, "r", "429", Duration::seconds(120), 3).unwrap();
    assert!(
        OutboxItem::claim(
            &mut conn,
            "r",
            &["chat_notification"],
            10,
            Duration::seconds(60)
        )
        .unwrap()
        .is_empty(),
        "not before retry-after"
    );
}

mod runner {
    //! The runner against a loopback HTTP double of a delivery target that answers 429 with
    //! Retry-After once per item, and 403 for a blocked target.

    use std::collections::HashMap;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use jira_teams_bridge::db::models::outbox::OutboxItem;
    use jira_teams_bridge::jobs::outbox::{Deliverer, DeliveryError, OutboxRunner, RunnerConfig};
    use serde_json::json;

    use crate::support::db::TestDb;

    #[derive(Default)]
    struct Target {
        calls: Mutex<HashMap<String, Vec<(Instant, u16)>>>,
    }

    async fn receive(req: HttpRequest, target: web::Data<Target>) -> HttpResponse {
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut calls = target.calls.lock().unwrap();
        let seen = calls.entry(key.clone()).or_default();
        let status = if key.starts_with("blocked") {
            403
        } else if seen.is_empty() {
            429
        } else {
            200
        };
        seen.push((Instant::now(), status));
        match status {
            429 => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", "1"))
                .finish(),
            403 => HttpResponse::Forbidden()
                .body(r#"{"errorCode":209,"message":"MessageWritesBlocked"}"#),
            _ => HttpResponse::Ok().finish(),
        }
    }

    struct HttpDeliverer {
        url: String,
        client: reqwest::Client,
    }

    impl Deliverer for HttpDeliverer {
        fn kind(&self) -> &'static str {
            "chat_notification"
        }

        fn deliver<'a>(
            &'a self,
            item: &'a OutboxItem,
        ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
            Box::pin(async move {
                let res = self
                    .client
                    .post(&self.url)
                    .header(
                        "Idempotency-Key",
                        item.dedupe_key.clone().unwrap_or_default(),
                    )
                    .json(&item.payload)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::Retry {
                        error: e.to_string(),
                        retry_after: None,
                    })?;
                match res.status().as_u16() {
                    200..=299 => Ok(()),
                    403 => Err(DeliveryError::Permanent("403 MessageWritesBlocked".into())),
                    s => Err(DeliveryError::Retry {
                        error: format!("HTTP {s}"),
                        retry_after: res
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .map(Duration::from_secs),
                    }),
                }
            })
        }
    }

    #[actix_web::test]
    async fn every_item_is_delivered_once_no_retry_comes_before_retry_after_and_blocked_ones_die() {
        let target = web::Data::new(Target::default());
        let t = target.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(t.clone())
                .route("/deliver", web::post().to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());

        let db = TestDb::migrated();
        let mut conn = db.conn();
        for i in 0..20 {
            OutboxItem::enqueue(
                &mut conn,
                "chat_notification",
                None,
                &format!("item-{i}"),
                &json!({"n": i}),
            )
            .unwrap();
        }
        OutboxItem::enqueue(
            &mut conn,
            "chat_notification",
            None,
            "blocked-1",
            &json!({}),
        )
        .unwrap();
        let pool =
            jira_teams_bridge::db::build_pool(&secrecy::SecretString::from(db.url.clone()), 4, 5)
                .unwrap();
        let deliverer = HttpDeliverer {
            url: format!("http://{addr}/deliver"),
            client: reqwest::Client::new(),
        };
        let config = RunnerConfig {
            batch: 8,
            lease: Duration::from_secs(30),
            max_attempts: 5,
            backoff_base: Duration::from_secs(5),
            idle_poll: Duration::from_millis(50),
            reap_every: Duration::from_secs(60),
        };
        let runner = OutboxRunner::new(pool, vec![Arc::new(deliverer)], config);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            runner.run_once().await.unwrap();
            let stats = OutboxItem::stats(&mut conn).unwrap();
            if stats.done == jira_teams_bridge::db::keyset::RowCount::Exact(20) && stats.dead == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not delivered in time: {stats:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let calls = target.calls.lock().unwrap();
        for i in 0..20 {
            let c = &calls[&format!("item-{i}")];
            assert_eq!(
                c.iter().filter(|(_, s)| *s == 200).count(),
                1,
                "item-{i} delivered exactly once"
            );
            assert!(
                c[1].0.duration_since(c[0].0) >= Duration::from_millis(950),
                "item-{i} retried before Retry-After"
            );
        }
        assert_eq!(
            calls["blocked-1"].len(),
            1,
            "a permanent failure is not retried"
        );
        let dead = OutboxItem::dead(&mut conn, 10).unwrap();
        assert_eq!(
            dead[0].last_error.as_deref(),
            Some("403 MessageWritesBlocked")
        );
    }
}
