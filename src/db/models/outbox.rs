//! The durable delivery queue. Rows are enqueued in the transaction that causes them; runners
//! claim due rows with `FOR UPDATE SKIP LOCKED` and a lease, deliver without holding a
//! connection, then record the outcome (done, retry with backoff, or dead): see
//! [`super::outbox_claim`].

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::keyset::{self, Page, RowCount, Window, seek_by};
use crate::db::schema::outbox;

/// A queued delivery.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxItem {
    pub id: i64,
    pub kind: String,
    pub jira_instance_id: Option<Uuid>,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i32,
    pub run_after: DateTime<Utc>,
    pub leased_until: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Queue figures for the admin page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    /// Delivered items: exact up to [`keyset::COUNT_CAP`], an estimate beyond.
    pub done: RowCount,
    pub oldest_pending_secs: Option<i64>,
}

impl OutboxItem {
    /// Enqueues one delivery; a repeat of `(kind, dedupe_key)` adds nothing. Returns whether a
    /// row was added.
    pub fn enqueue(
        conn: &mut PgConnection,
        kind: &str,
        instance: Option<Uuid>,
        dedupe_key: &str,
        payload: &serde_json::Value,
    ) -> QueryResult<bool> {
        Self::enqueue_ordered(conn, kind, instance, dedupe_key, payload, None)
    }

    /// As [`OutboxItem::enqueue`], and delivered only after every earlier pending item with the
    /// same `ordering_key` (one conversation, one issue) is done or dead.
    pub fn enqueue_ordered(
        conn: &mut PgConnection,
        kind: &str,
        instance: Option<Uuid>,
        dedupe_key: &str,
        payload: &serde_json::Value,
        ordering_key: Option<&str>,
    ) -> QueryResult<bool> {
        let n = diesel::insert_into(outbox::table)
            .values((
                outbox::kind.eq(kind),
                outbox::jira_instance_id.eq(instance),
                outbox::dedupe_key.eq(dedupe_key),
                outbox::payload.eq(payload),
                outbox::ordering_key.eq(ordering_key),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        Ok(n == 1)
    }

    /// Notes why a claimed item ends without being sent (e.g. nobody to send it to); the
    /// deliverer then reports success, so the item is done, not dead, and the note stays for
    /// the admin.
    pub fn note(conn: &mut PgConnection, id: i64, note: &str) -> QueryResult<()> {
        let note: String = note.chars().take(2048).collect();
        diesel::update(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::status.eq("pending")),
        )
        .set(outbox::last_error.eq(note))
        .execute(conn)?;
        Ok(())
    }

    /// Queue figures: the waiting, leased and dead items through their partial indexes (as
    /// `/metrics` reads them), the delivered history as an estimate or a capped count, never
    /// a count over the whole outbox.
    pub fn stats(conn: &mut PgConnection) -> QueryResult<OutboxStats> {
        let depth = QueueDepth::read(conn)?;
        let undelivered = depth.pending + depth.in_flight + depth.dead;
        let done = match keyset::estimate(conn, "outbox")? {
            Some(n) if n >= keyset::COUNT_CAP => RowCount::About((n - undelivered).max(0)),
            _ => keyset::capped(conn, "FROM outbox WHERE status = 'done'")?,
        };
        Ok(OutboxStats {
            pending: depth.pending,
            in_flight: depth.in_flight,
            dead: depth.dead,
            done,
            oldest_pending_secs: (depth.pending + depth.in_flight > 0)
                .then_some(depth.oldest_pending_secs),
        })
    }

    /// The page `window` of dead items, most recently failed first, on the
    /// `(updated_at, id) WHERE status = 'dead'` index.
    pub fn dead_page(
        conn: &mut PgConnection,
        window: &Window<(DateTime<Utc>, i64)>,
        limit: i64,
    ) -> QueryResult<Page<OutboxItem>> {
        keyset::read(window, limit, |s| {
            seek_by!(
                outbox::table.filter(outbox::status.eq("dead")).into_boxed(),
                s,
                desc = true,
                outbox::updated_at,
                outbox::id
            )
            .select(OutboxItem::as_select())
            .load(conn)
        })
    }

    /// The `limit` most recently failed dead items.
    pub fn dead(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<OutboxItem>> {
        Ok(Self::dead_page(conn, &Window::First, limit)?.rows)
    }

    /// Items still queued after a failed attempt (they will be tried again), next try first, on
    /// the `(run_after, id) WHERE status = 'pending' AND last_error IS NOT NULL` index.
    pub fn retrying(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<OutboxItem>> {
        outbox::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "outbox.status = 'pending' AND outbox.last_error IS NOT NULL",
            ))
            .order((outbox::run_after.asc(), outbox::id.asc()))
            .limit(limit)
            .select(OutboxItem::as_select())
            .load(conn)
    }

    /// Puts a dead item back in the queue with a fresh attempt budget.
    pub fn retry(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        let n = diesel::update(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::status.eq("dead")),
        )
        .set((
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::run_after.eq(Utc::now()),
            outbox::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Removes a dead item.
    pub fn discard(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::status.eq("dead")),
        )
        .execute(conn)?
            == 1)
    }
}

/// The default first backoff (`outbox.backoff_base_ms`).
pub const DEFAULT_BACKOFF_BASE_MS: i64 = 5000;

/// Backoff before attempt `attempts + 1`: exponential from `base_ms` (5 s by default), capped at
/// one hour, with ±20 % jitter; a `retry_after` from the remote side is honoured when longer,
/// plus up to 20 % so that many items throttled together (a 429 storm) do not all come back at
/// the same instant.
pub fn backoff(
    attempts: i32,
    retry_after: Option<Duration>,
    jitter_unit: f64,
    base_ms: i64,
) -> Duration {
    let jitter_unit = jitter_unit.clamp(0.0, 1.0);
    let base = base_ms
        .max(1)
        .saturating_mul(1_i64 << attempts.clamp(0, 20))
        .min(3_600_000);
    let jitter = 0.8 + 0.4 * jitter_unit;
    let computed = Duration::milliseconds((base as f64 * jitter) as i64);
    match retry_after {
        Some(r) if r > computed => {
            r + Duration::milliseconds((r.num_milliseconds() as f64 * 0.2 * jitter_unit) as i64)
        }
        _ => computed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        assert_eq!(
            backoff(0, None, 0.5, DEFAULT_BACKOFF_BASE_MS),
            Duration::seconds(5)
        );
        assert_eq!(
            backoff(3, None, 0.5, DEFAULT_BACKOFF_BASE_MS),
            Duration::seconds(40)
        );
        assert_eq!(
            backoff(30, None, 0.5, DEFAULT_BACKOFF_BASE_MS),
            Duration::seconds(3600)
        );
        assert!(
            backoff(1, None, 0.0, DEFAULT_BACKOFF_BASE_MS)
                < backoff(1, None, 1.0, DEFAULT_BACKOFF_BASE_MS),
            "jitter spreads retries"
        );
        assert_eq!(
            backoff(
                0,
                Some(Duration::seconds(120)),
                0.0,
                DEFAULT_BACKOFF_BASE_MS
            ),
            Duration::seconds(120),
            "never before Retry-After"
        );
        assert_eq!(
            backoff(
                0,
                Some(Duration::seconds(120)),
                0.5,
                DEFAULT_BACKOFF_BASE_MS
            ),
            Duration::seconds(132),
            "spread a little after it"
        );
        assert_eq!(
            backoff(5, Some(Duration::seconds(1)), 0.5, DEFAULT_BACKOFF_BASE_MS),
            Duration::seconds(160)
        );
        assert_eq!(
            backoff(2, None, 0.5, 200),
            Duration::milliseconds(800),
            "a smaller base (outbox.backoff_base_ms) scales every step"
        );
    }
}

/// What `/metrics` reads at every scrape: only undelivered rows (the `status = 'pending'` and
/// `status = 'dead'` partial indexes), never the delivered history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    /// Seconds since the oldest pending item was queued; 0 when none is.
    pub oldest_pending_secs: i64,
}

impl QueueDepth {
    /// Reads the figures in one statement.
    pub fn read(conn: &mut PgConnection) -> QueryResult<QueueDepth> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            pending: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            in_flight: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            dead: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            oldest: i64,
        }
        let r: Row = diesel::sql_query(
            "SELECT p.pending, p.in_flight, p.oldest, \
                    (SELECT count(*) FROM outbox WHERE status = 'dead') AS dead \
             FROM (SELECT count(*) FILTER (WHERE leased_until IS NULL OR leased_until < now()) AS pending, \
                          count(*) FILTER (WHERE leased_until >= now()) AS in_flight, \
                          coalesce(extract(epoch FROM now() - min(created_at))::bigint, 0) AS oldest \
                     FROM outbox WHERE status = 'pending') p",
        )
        .get_result(conn)?;
        Ok(QueueDepth {
            pending: r.pending,
            in_flight: r.in_flight,
            dead: r.dead,
            oldest_pending_secs: r.oldest.max(0),
        })
    }
}
