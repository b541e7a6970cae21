//! The dashboard activity job: flushes this process's counts (`services::activity::flush`) every
//! `metrics.activity_flush_secs` and prunes buckets past `metrics.activity_retention_days`.

use std::time::{Duration, Instant};

use crate::db;
use crate::db::models::activity_bucket::ActivityBucket;
use crate::services::activity::flush;
use crate::state::AppState;

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
