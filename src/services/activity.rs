//! Writes this process's dashboard activity counts to `activity_bucket`: one UPSERT per flush,
//! on the job's interval, before the dashboard reads and at shutdown. Counts that could not be
//! written are kept for the next flush.

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
