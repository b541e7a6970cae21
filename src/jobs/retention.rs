//! The hourly pruning job of `serve`: finished deliveries and old audit rows past their
//! retention (`[retention]`), and Jira user sessions that ended (`jira.user_session_*`). Several daemons on one database prune one at a time (advisory
//! lock); a failed pass is logged and retried next hour.

use std::time::Duration;

use crate::config::RetentionSettings;
use crate::db::models::retention;
use crate::db::{self, DbPool};

/// Time between passes.
const EVERY: Duration = Duration::from_secs(3600);
/// The first pass waits a little after start, so startup stays quick.
const FIRST_AFTER: Duration = Duration::from_secs(60);

/// Runs forever: one pass after [`FIRST_AFTER`], then every [`EVERY`]. `session_idle_mins` is
/// `jira.user_session_idle_mins`.
pub async fn run_forever(pool: DbPool, settings: RetentionSettings, session_idle_mins: i64) {
    actix_web::rt::time::sleep(FIRST_AFTER).await;
    loop {
        let (outbox_days, audit_days) = (settings.outbox_done_days, settings.audit_days);
        let result = db::run(&pool, move |conn| {
            Ok(retention::prune(
                conn,
                outbox_days,
                audit_days,
                session_idle_mins,
                |_, _| {},
            )?)
        })
        .await;
        match result {
            Ok(Some(r)) if r.outbox + r.audit + r.sessions > 0 => {
                tracing::info!(
                    pruned.outbox = r.outbox,
                    pruned.audit = r.audit,
                    pruned.sessions = r.sessions,
                    "retention: old rows deleted"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention pass failed; retrying next hour"),
        }
        actix_web::rt::time::sleep(EVERY).await;
    }
}
