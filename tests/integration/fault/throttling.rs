//! Fault: Microsoft refuses 30 % of calls, 429 and 503 in turn, each with `Retry-After`
//! (the same deterministic calls every run, `fakes::in_failing_share`). At the Bot Connector
//! (card deliveries, 30 chats × 3 events) and at Graph (replies posted through the API relay):
//! everything arrives exactly once, and no conversation or chat is called again before the
//! `Retry-After` of the refusal it got.

use serde_json::json;

use crate::fakes;
use crate::support::fault::summary;
use crate::support::storm::{CHATS, EVENTS, storm_world};
use crate::support::world::{BOB_KEY, api, create_chat, linked_world, messages_path};

#[actix_web::test]
async fn bot_connector_refusing_thirty_percent_with_429_and_503_still_gets_every_card_once_never_early()
 {
    let s = storm_world(50).await;
    s.bot.fail_share(1);
    s.send_events().await;
    // each 503 costs the item the outbox backoff (0.2 s, 0.4 s, ... in a storm world; 429s wait
    // for their Retry-After)
    s.settle(120).await;
    let items = CHATS * EVENTS.len();
    s.assert_every_card_once();
    let refused = s.assert_retry_after_kept();
    let sends = s.bot.attempts.lock().unwrap().len();
    let share = (1..=sends as u64)
        .filter(|n| fakes::in_failing_share(*n))
        .count();
    assert_eq!(refused, share, "3 in 10 of all {sends} sends were refused");
    assert_eq!(
        sends,
        items + refused,
        "each refusal cost one retry, no more"
    );
    let cards: Vec<(String, String)> = s
        .bot
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, chat, a)| (chat.clone(), a["text"].to_string()))
        .collect();
    let distinct = cards.iter().collect::<std::collections::HashSet<_>>().len();
    summary(
        "Bot Connector 429/503 on 30 % of calls",
        items,
        distinct,
        items - distinct,
        cards.len() - distinct,
        &format!("0 ({refused} of {sends} sends refused)"),
    );
}

#[actix_web::test]
async fn graph_refusing_thirty_percent_with_429_and_503_still_posts_every_reply_once_never_early() {
    const REPLIES: usize = 20;
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    w.graph.fail_share(1);
    for i in 0..REPLIES {
        let (status, body) = api(
            &w,
            "POST",
            &messages_path(&chat),
            BOB_KEY,
            Some(json!({ "text": format!("reply {i:03}") })),
        )
        .await;
        assert_eq!(status, 201, "reply {i}: {body}");
    }
    let posted: Vec<String> = w
        .graph
        .messages(&chat)
        .iter()
        .filter_map(|m| m["body"]["content"].as_str().map(str::to_owned))
        .collect();
    let mut lost = 0;
    let mut dups = 0;
    for i in 0..REPLIES {
        match posted
            .iter()
            .filter(|c| **c == format!("reply {i:03}"))
            .count()
        {
            0 => lost += 1,
            n => dups += n - 1,
        }
    }
    let refused = w.graph.refused.lock().unwrap().clone();
    let requests = w.graph.requests.lock().unwrap().clone();
    for (at, path, status, wait) in &refused {
        let next = requests.iter().find(|(t, _, p)| p == path && t > at);
        if let Some((t, _, _)) = next {
            assert!(
                *t - *at >= *wait,
                "{path} called again {:?} after a {status} with Retry-After {wait:?}",
                *t - *at
            );
        }
    }
    let kinds: Vec<u16> = refused.iter().map(|r| r.2).collect();
    assert!(
        kinds.contains(&429) && kinds.contains(&503),
        "both refusals seen: {kinds:?}"
    );
    assert!(refused.len() >= REPLIES / 4, "{} refusals", refused.len());
    summary(
        "Graph 429/503 on 30 % of calls (API relay replies)",
        REPLIES,
        REPLIES - lost,
        lost,
        dups,
        &format!("0 ({} of {} calls refused)", refused.len(), requests.len()),
    );
    assert_eq!((lost, dups), (0, 0), "every reply exactly once");
}
