//! Waiting for what happens in the background: a polling wait with a deadline, and "the outbox
//! has settled" for asserting that nothing more happened (instead of a fixed sleep).

use std::time::{Duration, Instant};

use diesel::prelude::*;

/// Polls `done` every 50 ms for up to `secs`; whether it held in time.
pub async fn holds_within(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `done` every 50 ms for up to `secs`; fails the test naming `what` when it never held.
pub async fn eventually(what: &str, secs: u64, done: impl FnMut() -> bool) {
    assert!(
        holds_within(secs, done).await,
        "timed out after {secs} s waiting for {what}"
    );
}

/// Waits up to `secs` until the outbox of the database at `db_url` has settled: no row is
/// pending, so none is leased, none is due and none waits for a retry (a fan-out's children
/// are queued in the transaction that finishes it, so there is no gap between them). Fails
/// with the rows still pending.
pub async fn outbox_settled(db_url: &str, secs: u64) {
    use jira_teams_bridge::db::schema::outbox;
    let mut conn = PgConnection::establish(db_url).unwrap();
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let pending: Vec<(i64, String, bool, bool)> = outbox::table
            .filter(outbox::status.eq("pending"))
            .select((
                outbox::id,
                outbox::kind,
                outbox::leased_until.is_not_null(),
                outbox::run_after.le(diesel::dsl::now),
            ))
            .load(&mut conn)
            .unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "the outbox did not settle in {secs} s; pending (id, kind, leased, due): {pending:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}
