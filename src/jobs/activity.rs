//! Writes this process's dashboard activity counts to `activity_bucket` — one UPSERT per flush,
//! every `metrics.activity_flush_secs`, before the dashboard reads and at shutdown — and prunes
//! buckets past `metrics.activity_retention_days`. Counts that could not be written are kept for
//! the next flush.

use std::time::{Duration, Instant};

use crate::db;
use crate::db::models::activity_bucket::ActivityBucket;
use crate::state::AppState;

/// Adds the pending counts to the database now; on failure they wait for the next flush.
pub async fn flush(state: &AppState) {
    let pending = state.metrics.take_activity();
    if pending.is_empty() {
        return;
    }
    let rows: Vec<_> = pending
        .iter()
        .map(|(hour, what, n)| (*hour, what.as_str(), *n))
        .collect();
    let written = db::run(&state.pool, move |conn| {
        Ok(ActivityBucket::add(conn, &rows)?)
    })
    .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot store dashboard activity counts; keeping them for the next try");
        state.metrics.restore_activity(pending);
    }
}

/// Deletes buckets past the retention.
pub async fn prune(state: &AppState) {
    let days = i64::from(state.settings.metrics.activity_retention_days);
    let before = chrono::Utc::now() - chrono::Duration::days(days);
    match db::run(&state.pool, move |conn| {
        Ok(ActivityBucket::prune(conn, before)?)
    })
    .await
    {
        Ok(n) if n > 0 => tracing::info!(activity.pruned = n, "old dashboard activity removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune dashboard activity"),
    }
}

/// Flushes on the configured interval and prunes once an hour, until the process stops.
pub async fn flush_forever(state: AppState) {
    let every = Duration::from_secs(state.settings.metrics.activity_flush_secs.max(1));
    let mut last_prune: Option<Instant> = None;
    loop {
        actix_web::rt::time::sleep(every).await;
        flush(&state).await;
        if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            prune(&state).await;
            last_prune = Some(Instant::now());
        }
    }
}
