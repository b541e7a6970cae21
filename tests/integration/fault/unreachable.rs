//! Fault: Microsoft cannot be reached. One chat's Bot Connector host does not resolve (a
//! `.invalid` name, allowed in `microsoft.service_url_hosts`), another's points at a closed
//! loopback port. Their cards stay queued and are retried (not given up early), `/metrics`
//! counts the failures by reason and shows the queue, the admin's delivery-queue page shows each
//! item with a readable cause and no secret, and once the endpoint is right both are delivered.

use diesel::prelude::*;

use crate::fakes::{self, entra::TENANT_ID};
use crate::support::bot::bot_world_with;
use crate::support::daemon::free_port;
use crate::support::fault::summary;
use crate::support::metrics::{scrape, value};
use crate::support::wait::{holds_within, outbox_settled};
use crate::support::webhook::{post_fixture, webhook_path};
use crate::support::world::{ISSUE, World, install_bot, link_issue_chat};

const DNS_HOST: &str = "bot-connector.invalid";

/// Each card's status and finished attempts (an attempt still out is not counted).
fn attempts(w: &World) -> Vec<(String, i32)> {
    use jira_teams_bridge::db::schema::outbox;
    let rows: Vec<(String, i32, bool)> = outbox::table
        .filter(outbox::kind.eq("chat_notification"))
        .order(outbox::id)
        .select((
            outbox::status,
            outbox::attempts,
            outbox::leased_until.is_not_null(),
        ))
        .load(&mut w.conn())
        .unwrap();
    rows.into_iter()
        .map(|(s, n, out)| (s, if out { n - 1 } else { n }))
        .collect()
}

#[actix_web::test]
async fn cards_for_an_unresolvable_or_refusing_bot_connector_wait_visibly_and_arrive_once_it_is_fixed()
 {
    let closed = free_port();
    let b = bot_world_with(|s| {
        s.microsoft
            .service_url_hosts
            .extend([DNS_HOST.to_owned(), format!("127.0.0.1:{closed}")]);
        // without a `Retry-After`, a retry waits 0.2 s, 0.4 s, ... rather than 5 s, 10 s, ...
        s.outbox.backoff_base_ms = 200;
    })
    .await;
    let (w, bot) = (&b.w, &b.bot);
    let broken = [
        (
            "19:fault-dns@thread.v2",
            format!("https://{DNS_HOST}/amer/"),
        ),
        (
            "19:fault-refused@thread.v2",
            format!("https://127.0.0.1:{closed}/amer/"),
        ),
    ];
    let mut conn = w.conn();
    for (chat, service_url) in &broken {
        link_issue_chat(&mut conn, w.instance_id, ISSUE, chat);
        install_bot(&mut conn, chat, TENANT_ID, service_url);
    }
    let hook = webhook_path(w).await;
    post_fixture(&w.app, &hook, "issue_updated").await;

    // each card fails, waits its backoff, fails again: still queued, not given up
    let retried = holds_within(30, || {
        let a = attempts(w);
        a.len() == 2 && a.iter().all(|(s, n)| s == "pending" && *n >= 2)
    })
    .await;
    assert!(
        retried,
        "both cards retried and still queued: {:?}",
        attempts(w)
    );

    let samples = scrape(&w.app.base).await;
    for reason in ["dns", "connection_refused"] {
        let failed = value(
            &samples,
            "jtb_outbound_requests_total",
            &[("service", "bot connector"), ("status", reason)],
        );
        assert!(failed >= 2.0, "{reason} failures counted: {failed}");
    }
    assert_eq!(
        value(&samples, "jtb_outbox_items", &[("state", "pending")]),
        2.0,
        "the queue depth shows both"
    );

    let html = w.app.get("/admin/outbox").await.text().await.unwrap();
    let table = crate::support::app::between(&html, "<table id=\"retrying\">", "</table>");
    for expected in [
        format!("could not resolve host {DNS_HOST}:443"),
        format!("connection refused by 127.0.0.1:{closed}"),
        "19:fault-dns@thread.v2".to_owned(),
        "19:fault-refused@thread.v2".to_owned(),
    ] {
        assert!(table.contains(&expected), "{expected} in {table}");
    }
    for secret in [fakes::entra::CLIENT_SECRET, "Bearer", "eyJ"] {
        assert!(!table.contains(secret), "the queue page shows no secret");
    }

    // the endpoint is right again (Teams sent the current service URL): both arrive, once
    diesel::sql_query("UPDATE bot_membership SET service_url = $1")
        .bind::<diesel::sql_types::Text, _>(bot.service_url())
        .execute(&mut conn)
        .unwrap();
    let delivered = holds_within(40, || {
        broken
            .iter()
            .all(|(chat, _)| !bot.received_for(chat).is_empty())
    })
    .await;
    outbox_settled(&w.app.db.url, 10).await;
    let cards: Vec<usize> = broken
        .iter()
        .map(|(chat, _)| bot.received_for(chat).len())
        .collect();
    let got = cards.iter().filter(|n| **n > 0).count();
    let dups: usize = cards.iter().map(|n| n.saturating_sub(1)).sum();
    summary(
        "DNS failure + connection refused to the Bot Connector",
        broken.len(),
        got,
        broken.len() - got,
        dups,
        "0",
    );
    assert!(delivered, "delivered after the fix: {:?}", attempts(w));
    assert_eq!(dups, 0, "each card once");
    assert!(attempts(w).iter().all(|(s, _)| s == "done"));
}
