//! Fault: SIGKILL of the real daemon while 1,000 accepted webhooks are being delivered as cards.
//! After a restart every card arrives; the only duplicates are sends the double had answered
//! when the process died, so never more than one claim batch.

use std::time::{Duration, Instant};

use crate::support::daemon::Daemon;
use crate::support::daemon::free_port;
use crate::support::db::TestDb;
use crate::support::fault::{appliance, post_all, summary};
use crate::support::wait::holds_within;

const WEBHOOKS: usize = 1_000;
/// 100 issues, each linked to its own chat: ten cards per conversation, in order.
const ISSUES: usize = 100;
/// Teams paces 50 calls/s per tenant: 20 tenants keep pacing from being the bottleneck.
const TENANTS: usize = 20;
const LEASE_SECS: u64 = 5;

#[actix_web::test]
async fn a_sigkill_with_a_thousand_cards_in_flight_loses_none_and_duplicates_at_most_one_batch() {
    let batch = jira_teams_bridge::jobs::outbox::RunnerConfig::default().batch as usize;
    let db = TestDb::migrated();
    let a = appliance(&db.url, ISSUES, TENANTS);
    let port = free_port();
    let env = a.env(port, LEASE_SECS);
    let log = a.state_dir.0.join("serve.log");
    let started = Instant::now();

    // first life: a slow Bot Connector keeps deliveries in flight while Jira sends 1,000 events
    a.bot
        .delay_ms
        .store(150, std::sync::atomic::Ordering::SeqCst);
    let mut first = Daemon::start(&env, port, &log).await;
    let accepted = post_all(&first.base, &a.hook_path(), ISSUES, 0..WEBHOOKS).await;
    assert_eq!(accepted.len(), WEBHOOKS, "every webhook was accepted");
    // kill at an instant when the double holds sends it has not answered yet
    let until = Instant::now() + Duration::from_secs(20);
    let (before_kill, in_flight) = loop {
        {
            let received = a.bot.received.lock().unwrap();
            let attempts = a.bot.attempts.lock().unwrap();
            if attempts.len() > received.len() || Instant::now() > until {
                first.kill();
                break (received.len(), attempts.len() - received.len());
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(
        before_kill < WEBHOOKS && in_flight > 0,
        "the kill came mid-delivery: {before_kill} delivered, {in_flight} in flight"
    );

    // second life: the dead process's leases expire and everything left is delivered
    a.bot.delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    let second = Daemon::start(&env, port, &log).await;
    let all_there = holds_within(120, || {
        let got = a.cards_by_seq();
        accepted.iter().all(|s| got.contains_key(s))
    })
    .await;
    // late duplicates would arrive within a lease: wait one out before counting
    actix_web::rt::time::sleep(Duration::from_secs(LEASE_SECS + 1)).await;
    let (delivered, lost, dups) = a.tally(&accepted);
    summary(
        "SIGKILL with 1,000 cards in flight",
        accepted.len(),
        delivered,
        lost,
        dups,
        &format!("<= {batch} (claim batch)"),
    );
    println!(
        "sigkill: {before_kill} cards before the kill, {in_flight} sends in flight, {:?} in all",
        started.elapsed()
    );
    assert!(all_there, "cards lost: {lost}\n{}", second.log_text());
    assert_eq!(lost, 0);
    assert!(
        dups <= batch,
        "{dups} duplicates, more than one batch ({batch})"
    );
    drop(second);
}
