//! The durable outbox on the real database: no double claims, leases, backoff, dead items and
//! the admin page's retry and discard.

use std::collections::HashSet;

use chrono::Duration;
use jira_teams_bridge::db::models::outbox::OutboxItem;
use serde_json::json;

use crate::helpers::{TestDb, spawn_app};

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
    assert_eq!(OutboxItem::stats(&mut conn).unwrap().done, 300);
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
    let dead = OutboxItem::dead(&mut conn, 0, 10).unwrap();
    let res = app
        .post_form(&format!("/admin/outbox/{}/retry", dead[0].id), &[])
        .await;
    assert_eq!(
        crate::helpers::location(&res),
        "/admin/outbox?notice=retried"
    );
    let res = app
        .post_form(&format!("/admin/outbox/{}/discard", dead[1].id), &[])
        .await;
    assert_eq!(
        crate::helpers::location(&res),
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
