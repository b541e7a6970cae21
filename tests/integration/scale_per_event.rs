//! Per-event work that does not grow with the data (issue 17): the fan-out's lookups of linked
//! users take the same time with 100 or 100,000 linked users, and a backlog stuck behind
//! retrying items neither slows the claim for other conversations nor breaks the order of its
//! own conversation.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use jira_teams_bridge::db::models::outbox::OutboxItem;
use jira_teams_bridge::db::models::user_mapping::UserMapping;
use uuid::Uuid;

use crate::support::db::TestDb;

const BIG: Uuid = Uuid::from_u128(0xb1);
const OTHER: Uuid = Uuid::from_u128(0x07);
const TENANT: Uuid = Uuid::from_u128(0x7e);
const GUEST_TENANT: Uuid = Uuid::from_u128(0x9e);

fn instances(conn: &mut PgConnection) {
    conn.batch_execute(&format!(
        "INSERT INTO jira_instance (id, base_url, public_id, shared_secret, shared_secret_hint) VALUES \
           ('{BIG}', 'https://jira.big.example', 'BigJira2', decode(repeat('ab', 32), 'hex'), 'abcd'), \
           ('{OTHER}', 'https://jira.other.example', 'XtherJr2', decode(repeat('ab', 32), 'hex'), 'abcd')"
    ))
    .unwrap();
}

/// `n` links of `instance` named `{prefix}{i}`, created `minutes_ago + i` minutes ago (so the
/// first is the newest), with `status`.
fn links(
    conn: &mut PgConnection,
    instance: Uuid,
    prefix: &str,
    n: u32,
    minutes_ago: u32,
    status: &str,
) {
    conn.batch_execute(&format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, \
                                   status, created_at) \
         SELECT gen_random_uuid(), '{instance}', '{prefix}' || g, '{TENANT}', gen_random_uuid(), \
                '{status}', now() - ({minutes_ago} + g) * interval '1 minute' \
           FROM generate_series(1, {n}) g; \
         ANALYZE user_mapping;"
    ))
    .unwrap();
}

fn ms_user(conn: &mut PgConnection, key: &str) -> Uuid {
    #[derive(QueryableByName)]
    struct U {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        ms_user_id: Uuid,
    }
    diesel::sql_query("SELECT ms_user_id FROM user_mapping WHERE jira_user_key = $1")
        .bind::<diesel::sql_types::Text, _>(key)
        .get_result::<U>(conn)
        .unwrap()
        .ms_user_id
}

/// The median time of 21 runs of `f`.
fn median(mut f: impl FnMut()) -> StdDuration {
    let mut times: Vec<StdDuration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[10]
}

#[test]
fn the_fan_outs_user_lookups_take_the_same_time_with_100_or_100k_linked_users() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    instances(&mut conn);
    // 100 links of the big instance: the 10 oldest need a new sign-in; the other instance has
    // an even older working link; one user of the big instance is a guest from another tenant
    links(&mut conn, BIG, "u", 90, 200_000, "linked");
    links(&mut conn, BIG, "stale", 10, 300_000, "needs_reauth");
    links(&mut conn, OTHER, "o", 1, 1_000_000, "linked");
    conn.batch_execute(&format!(
        "UPDATE user_mapping SET ms_tenant_id = '{GUEST_TENANT}' WHERE jira_user_key = 'u7'"
    ))
    .unwrap();
    let asker = |conn: &mut PgConnection| {
        let page = UserMapping::page_of_instance(conn, BIG, 1).unwrap();
        page.into_iter()
            .map(|m| m.jira_user_key)
            .collect::<Vec<_>>()
    };
    let wanted = [
        ms_user(&mut conn, "u3"),
        ms_user(&mut conn, "u7"),
        ms_user(&mut conn, "u60"),
        ms_user(&mut conn, "o1"),
        Uuid::new_v4(),
    ];
    let found = |conn: &mut PgConnection| {
        let mut keys: Vec<String> = UserMapping::by_ms_users(conn, BIG, &wanted)
            .unwrap()
            .into_iter()
            .map(|m| m.jira_user_key)
            .collect();
        keys.sort();
        keys
    };
    // the fan-out asks as the oldest working link of the instance, and finds members' links
    // in every tenant of the instance, none of another instance
    assert_eq!(asker(&mut conn), ["u90"]);
    assert_eq!(found(&mut conn), ["u3", "u60", "u7"]);
    let small = (
        median(|| _ = asker(&mut conn)),
        median(|| _ = found(&mut conn)),
    );

    // a large site: 100,000 more working links (newer) and 5,000 more lapsed ones (older)
    links(&mut conn, BIG, "n", 100_000, 0, "linked");
    links(&mut conn, BIG, "lapsed", 5_000, 400_000, "needs_reauth");
    assert_eq!(asker(&mut conn), ["u90"], "still the oldest working link");
    assert_eq!(found(&mut conn), ["u3", "u60", "u7"]);
    let big = (
        median(|| _ = asker(&mut conn)),
        median(|| _ = found(&mut conn)),
    );
    for (what, small, big) in [
        ("the asker", small.0, big.0),
        ("members' links", small.1, big.1),
    ] {
        assert!(
            big <= small * 3 + StdDuration::from_millis(1),
            "{what}: {small:?} with 100 linked users, {big:?} with 100,000"
        );
    }
}

/// Queues `per_key` items for each of `keys` conversations named `{prefix}{k}`, interleaved
/// (k1 #1, k2 #1, ..., k1 #2, ...), due now.
fn fresh(conn: &mut PgConnection, prefix: &str, keys: u32, per_key: u32) {
    conn.batch_execute(&format!(
        "INSERT INTO outbox (kind, dedupe_key, payload, ordering_key) \
         SELECT 'chat_notification', '{prefix}' || k || ':' || i, '{{}}', 'conversation:{prefix}' || k \
           FROM generate_series(1, {per_key}) i, generate_series(1, {keys}) k ORDER BY i, k"
    ))
    .unwrap();
}

/// Claims batches of 8 and delivers them until nothing is due; returns each claim's items
/// (id, ordering key) and how long it took.
fn drain(conn: &mut PgConnection) -> Vec<(Vec<(i64, String)>, StdDuration)> {
    let mut rounds = Vec::new();
    loop {
        let t = Instant::now();
        let batch =
            OutboxItem::claim(conn, "r", &["chat_notification"], 8, Duration::seconds(60)).unwrap();
        let took = t.elapsed();
        if batch.is_empty() {
            return rounds;
        }
        let mut got = Vec::new();
        for item in batch {
            assert!(OutboxItem::complete(conn, item.id, "r").unwrap());
            got.push((item.id, key_of(conn, item.id)));
        }
        rounds.push((got, took));
    }
}

/// Every key's items came in id order, and never two of one key in one claim.
fn assert_in_order(rounds: &[(Vec<(i64, String)>, StdDuration)]) {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for (batch, _) in rounds {
        let mut keys = HashSet::new();
        for (id, key) in batch {
            assert!(
                keys.insert(key),
                "two items of {key} in one claim: {batch:?}"
            );
            let before = last.insert(key, *id);
            assert!(before < Some(*id), "{key}: {id} after {before:?}");
        }
    }
}

fn median_of(rounds: &[(Vec<(i64, String)>, StdDuration)]) -> StdDuration {
    let mut t: Vec<StdDuration> = rounds.iter().map(|r| r.1).collect();
    t.sort();
    t[t.len() / 2]
}

fn key_of(conn: &mut PgConnection, id: i64) -> String {
    #[derive(QueryableByName)]
    struct K {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ordering_key: String,
    }
    diesel::sql_query("SELECT ordering_key FROM outbox WHERE id = $1")
        .bind::<diesel::sql_types::BigInt, _>(id)
        .get_result::<K>(conn)
        .unwrap()
        .ordering_key
}

fn pending_of(conn: &mut PgConnection, key: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND ordering_key = $1",
    )
    .bind::<diesel::sql_types::Text, _>(key)
    .get_result::<N>(conn)
    .unwrap()
    .n
}

#[test]
fn a_backlog_behind_retrying_items_holds_back_only_its_conversations_and_costs_the_claim_nothing() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // no backlog: 20 conversations with 3 cards each
    fresh(&mut conn, "calm", 20, 3);
    let calm = drain(&mut conn);
    assert_eq!(calm.iter().map(|r| r.0.len()).sum::<usize>(), 60);
    assert_in_order(&calm);

    // 300 conversations whose first card is retrying (next try in 30 minutes) with 50,000
    // cards due behind them, queued an hour ago
    conn.batch_execute(
        "INSERT INTO outbox (kind, dedupe_key, payload, ordering_key, attempts, run_after, last_error) \
         SELECT 'chat_notification', 'head' || g, '{}', 'conversation:stuck' || g, 3, \
                now() + interval '30 minutes', '429 throttled' \
           FROM generate_series(1, 300) g; \
         INSERT INTO outbox (kind, dedupe_key, payload, ordering_key, run_after) \
         SELECT 'chat_notification', 'follow' || g, '{}', 'conversation:stuck' || (g % 300 + 1), \
                now() - interval '1 hour' + g * interval '1 millisecond' \
           FROM generate_series(1, 50000) g; \
         ANALYZE outbox;",
    )
    .unwrap();
    fresh(&mut conn, "busy", 20, 3);
    let busy = drain(&mut conn);
    // the other conversations get all their cards, in order, from the first claim on
    let delivered: Vec<&String> = busy.iter().flat_map(|r| r.0.iter().map(|i| &i.1)).collect();
    assert_eq!(delivered.len(), 60, "{delivered:?}");
    assert!(delivered.iter().all(|k| k.starts_with("conversation:busy")));
    assert_eq!(busy[0].0.len(), 8, "the first claim already delivers");
    assert_in_order(&busy);
    // and once the old index entries of the held rows are gone (index scans mark them dead as
    // they pass unless a long transaction runs anywhere on the server; vacuum removes them, here
    // at once) a claim costs what it costs without the backlog
    conn.batch_execute("VACUUM outbox").unwrap();
    fresh(&mut conn, "late", 20, 3);
    let late = drain(&mut conn);
    assert_eq!(late.iter().map(|r| r.0.len()).sum::<usize>(), 60);
    assert_in_order(&late);
    let (with, without) = (median_of(&late), median_of(&calm));
    assert!(
        with <= without * 3 + StdDuration::from_millis(5),
        "a claim takes {with:?} behind 50,000 held-back cards, {without:?} without"
    );
    let (n1, n2, n3) = (
        pending_of(&mut conn, "conversation:stuck1"),
        pending_of(&mut conn, "conversation:stuck2"),
        pending_of(&mut conn, "conversation:stuck3"),
    );
    assert!(n1 > 150 && n2 > 150 && n3 > 150, "{n1} {n2} {n3}");

    // the retry time of one conversation's first card comes: its cards go, one after the
    // other in order, each as soon as the one before it is delivered
    conn.batch_execute(
        "UPDATE outbox SET run_after = now() WHERE dedupe_key = 'head1' AND kind = 'chat_notification'",
    )
    .unwrap();
    let one = drain(&mut conn);
    assert_eq!(
        one.len() as i64,
        n1,
        "one claim per card of the conversation"
    );
    assert!(one.iter().all(|r| r.0[0].1 == "conversation:stuck1"));
    assert_in_order(&one);
    assert_eq!(pending_of(&mut conn, "conversation:stuck1"), 0);

    // a conversation whose retrying first card is erased: its other cards go after the reaper
    conn.batch_execute(
        "DELETE FROM outbox WHERE dedupe_key = 'head2' AND kind = 'chat_notification'",
    )
    .unwrap();
    assert_eq!(OutboxItem::release_held_heads(&mut conn).unwrap(), 1);
    let two = drain(&mut conn);
    assert_eq!(two.len() as i64, n2 - 1);
    assert!(two.iter().all(|r| r.0[0].1 == "conversation:stuck2"));
    assert_in_order(&two);
    assert_eq!(OutboxItem::release_held_heads(&mut conn).unwrap(), 0);
    // every other stuck conversation still waits for its first card
    assert_eq!(pending_of(&mut conn, "conversation:stuck3"), n3);
}

/// A retrying card holds back the cards behind it, also when its retry fails again, and the
/// outbox's autovacuum follows a table that is written all day.
#[test]
fn a_card_that_fails_again_keeps_holding_back_its_followers_and_outbox_vacuums_early() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    fresh(&mut conn, "c", 2, 3);
    let claim = |conn: &mut PgConnection| {
        OutboxItem::claim(conn, "r", &["chat_notification"], 10, Duration::seconds(60)).unwrap()
    };
    let first = claim(&mut conn);
    assert_eq!(first.len(), 2, "one head per conversation");
    let (c1, c2) = if key_of(&mut conn, first[0].id) == "conversation:c1" {
        (&first[0], &first[1])
    } else {
        (&first[1], &first[0])
    };
    // c1's first card is throttled for a second; c2's is delivered
    assert!(OutboxItem::fail(&mut conn, c1.id, "r", "429", Duration::seconds(1), 5).unwrap());
    assert!(OutboxItem::complete(&mut conn, c2.id, "r").unwrap());
    let next = claim(&mut conn);
    assert_eq!(next.len(), 1);
    assert_eq!(key_of(&mut conn, next[0].id), "conversation:c2");
    assert!(OutboxItem::complete(&mut conn, next[0].id, "r").unwrap());
    std::thread::sleep(StdDuration::from_millis(1100));
    let retried = claim(&mut conn);
    let ids: Vec<i64> = retried.iter().map(|i| i.id).collect();
    assert!(ids.contains(&c1.id), "{retried:?}");
    for i in &retried {
        assert!(i.id == c1.id || key_of(&mut conn, i.id) == "conversation:c2");
    }
    // it fails again, for good: the cards behind it go at once, in order
    for i in &retried {
        if i.id == c1.id {
            assert!(OutboxItem::fail(&mut conn, i.id, "r", "403", Duration::zero(), 0).unwrap());
        } else {
            assert!(OutboxItem::complete(&mut conn, i.id, "r").unwrap());
        }
    }
    let rest = drain(&mut conn);
    let c1_rest: Vec<i64> = rest
        .iter()
        .flat_map(|r| r.0.iter())
        .filter(|i| i.1 == "conversation:c1")
        .map(|i| i.0)
        .collect();
    assert_eq!(c1_rest.len(), 2, "{rest:?}");
    assert!(c1_rest[0] < c1_rest[1]);

    #[derive(QueryableByName)]
    struct Opts {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        opts: String,
    }
    let opts: Vec<Opts> = diesel::sql_query(
        "SELECT relname::text, array_to_string(reloptions, ',') AS opts FROM pg_class \
          WHERE relname IN ('outbox', 'secret_access_audit') ORDER BY relname",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(opts[0].relname, "outbox");
    assert!(opts[0].opts.contains("autovacuum_vacuum_scale_factor=0.01"));
    assert!(
        opts[1]
            .opts
            .contains("autovacuum_vacuum_insert_scale_factor=0.01")
    );
}

/// Three runners drain 30 conversations of 15 cards each, delivering as they claim: every card
/// goes out, none while an earlier card of its conversation is undelivered, and none is left
/// held for the reaper (no hold outlives the card it waited for).
#[test]
fn concurrent_runners_keep_each_conversations_order_and_leave_nothing_held() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    fresh(&mut conn, "par", 30, 15);
    let started = Instant::now();
    let runners: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|owner| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                let (mut delivered, mut early) = (Vec::new(), Vec::new());
                let mut idle = 0;
                while idle < 20 && started.elapsed() < StdDuration::from_secs(20) {
                    let batch = OutboxItem::claim(
                        &mut conn,
                        owner,
                        &["chat_notification"],
                        4,
                        Duration::seconds(60),
                    )
                    .unwrap();
                    if batch.is_empty() {
                        idle += 1;
                        std::thread::sleep(StdDuration::from_millis(20));
                        continue;
                    }
                    idle = 0;
                    for item in &batch {
                        // nothing earlier of its conversation may still be undelivered
                        let key = key_of(&mut conn, item.id);
                        if earlier_pending(&mut conn, &key, item.id) > 0 {
                            early.push((key, item.id));
                        }
                    }
                    std::thread::sleep(StdDuration::from_millis(2));
                    for item in batch {
                        assert!(OutboxItem::complete(&mut conn, item.id, owner).unwrap());
                        delivered.push(item.id);
                    }
                }
                (delivered, early)
            })
        })
        .collect();
    let (mut delivered, mut early) = (Vec::new(), Vec::new());
    for r in runners {
        let (d, e) = r.join().unwrap();
        delivered.extend(d);
        early.extend(e);
    }
    assert!(
        early.is_empty(),
        "claimed before an earlier card: {early:?}"
    );
    delivered.sort();
    delivered.dedup();
    assert_eq!(
        delivered.len(),
        450,
        "every card delivered once, none left held"
    );
}

fn earlier_pending(conn: &mut PgConnection, key: &str, id: i64) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND ordering_key = $1 AND id < $2",
    )
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::BigInt, _>(id)
    .get_result::<N>(conn)
    .unwrap()
    .n
}
