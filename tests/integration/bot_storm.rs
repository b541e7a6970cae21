//! Teams' rate limits and 429 storms (PROTOCOLS.md §3.6): many chats linked to one issue, the
//! Bot Connector double throttling a share of the sends or everything for a while, and what the
//! double sees: every card exactly once, no conversation retried before its `Retry-After`, and
//! never more sends per second than `outbound.bot_rps_per_tenant` (or 7 per conversation).

use std::time::{Duration, Instant};

use crate::support::storm::{CHATS, EVENTS, storm_world};

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
