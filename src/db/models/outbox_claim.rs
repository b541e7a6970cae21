//! The delivery side of the outbox: claiming due items, recording outcomes, and the holds that
//! keep the claim from re-reading items stuck behind an earlier one of their ordering key.
//!
//! Items with the same ordering key go out one after the other, in id order: only the earliest
//! pending item of a key (its head) may be claimed. A due item the claim finds behind its head
//! is marked `held` and leaves the claim's index (`outbox_claimable_idx`), so a backlog behind a
//! retrying head is read once, not by every claim, however often the head is retried. When a
//! head is delivered or dies, its next item is released at once; the lease reaper releases any
//! head still held (the item it waited for was erased). The claim checks the order itself: a
//! hold only spares reads, a missed hold costs one more read.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int8, Nullable, Text, Timestamptz};

use super::outbox::OutboxItem;
use crate::db::schema::outbox;

/// Rows fetched at a time once a fetch has met held-back items: doubling from the first to the
/// last (a backlog met at once, after an upgrade or a restart, takes few round trips).
const FETCH_AFTER_HELD: (i64, i64) = (64, 1024);

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Int8)]
    id: i64,
    /// An earlier item of its ordering key is pending.
    #[diesel(sql_type = Bool)]
    behind: bool,
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Nullable<Text>)]
    ordering_key: Option<String>,
}

/// Due items not yet held, in due order, each saying whether it is behind an earlier pending
/// item of its key (`$1` kinds, `$2` now).
const CANDIDATES: &str = "DECLARE outbox_claim NO SCROLL CURSOR FOR \
     SELECT o.id, (o.ordering_key IS NOT NULL AND EXISTS ( \
              SELECT 1 FROM outbox e \
               WHERE e.ordering_key = o.ordering_key AND e.status = 'pending' \
                 AND e.id < o.id)) AS behind \
       FROM outbox o \
      WHERE o.status = 'pending' AND NOT o.held AND o.kind = ANY($1) AND o.run_after <= $2 \
        AND (o.leased_until IS NULL OR o.leased_until < $2) \
      ORDER BY o.run_after \
      FOR UPDATE OF o SKIP LOCKED";

impl OutboxItem {
    /// Claims up to `limit` due items for `owner` for `lease` (short transaction: the caller
    /// delivers after it has returned its connection). Reads due items in order until `limit`
    /// heads are found; the items met on the way behind a head are held (see the module doc).
    pub fn claim(
        conn: &mut PgConnection,
        owner: &str,
        kinds: &[&str],
        limit: i64,
        lease: Duration,
    ) -> QueryResult<Vec<OutboxItem>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        conn.transaction(|conn| {
            let now = Utc::now();
            diesel::sql_query(CANDIDATES)
                .bind::<Array<Text>, _>(kinds)
                .bind::<Timestamptz, _>(now)
                .execute(conn)?;
            let (mut ids, mut held) = (Vec::new(), Vec::new());
            let mut fetch = limit;
            loop {
                let rows: Vec<Candidate> =
                    diesel::sql_query(format!("FETCH {fetch} FROM outbox_claim")).load(conn)?;
                let exhausted = (rows.len() as i64) < fetch;
                for row in rows {
                    if row.behind {
                        held.push(row.id);
                    } else if (ids.len() as i64) < limit {
                        ids.push(row.id);
                    }
                    // (a head fetched past the batch stays as it is; its lock ends at commit)
                }
                if exhausted || ids.len() as i64 >= limit {
                    break;
                }
                let grown = if fetch < FETCH_AFTER_HELD.0 {
                    FETCH_AFTER_HELD.0
                } else {
                    (fetch * 2).min(FETCH_AFTER_HELD.1)
                };
                fetch = (limit - ids.len() as i64).max(grown);
            }
            diesel::sql_query("CLOSE outbox_claim").execute(conn)?;
            if !held.is_empty() {
                // checked again on a fresh snapshot: a head delivered since the cursor began
                // holds nothing back (and one delivered from now on waits for this transaction
                // to release its next item, see `release_next`)
                diesel::sql_query(
                    "UPDATE outbox f SET held = true \
                      WHERE f.id = ANY($1) AND EXISTS ( \
                            SELECT 1 FROM outbox e \
                             WHERE e.ordering_key = f.ordering_key AND e.status = 'pending' \
                               AND e.id < f.id)",
                )
                .bind::<Array<Int8>, _>(&held)
                .execute(conn)?;
            }
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                .set((
                    outbox::leased_until.eq(now + lease),
                    outbox::lease_owner.eq(owner),
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::updated_at.eq(now),
                ))
                .returning(OutboxItem::as_returning())
                .get_results(conn)
        })
    }

    /// Marks a claimed item delivered (only while `owner` still holds it); the next item of its
    /// ordering key may go at once.
    pub fn complete(conn: &mut PgConnection, id: i64, owner: &str) -> QueryResult<bool> {
        let done: Option<Key> = diesel::sql_query(
            "UPDATE outbox SET status = 'done', leased_until = NULL, updated_at = $3 \
              WHERE id = $1 AND lease_owner = $2 RETURNING ordering_key",
        )
        .bind::<Int8, _>(id)
        .bind::<Text, _>(owner)
        .bind::<Timestamptz, _>(Utc::now())
        .get_result(conn)
        .optional()?;
        let Some(key) = done else {
            return Ok(false);
        };
        release_next(conn, key.ordering_key.as_deref())?;
        Ok(true)
    }

    /// Records a failed attempt: retried after `delay`, or dead once `attempts` reached
    /// `max_attempts` (then the next item of its ordering key may go at once).
    pub fn fail(
        conn: &mut PgConnection,
        id: i64,
        owner: &str,
        error: &str,
        delay: Duration,
        max_attempts: i32,
    ) -> QueryResult<bool> {
        #[derive(QueryableByName)]
        struct Failed {
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Nullable<Text>)]
            ordering_key: Option<String>,
        }
        let error: String = error.chars().take(2048).collect();
        let now = Utc::now();
        let failed: Option<Failed> = diesel::sql_query(
            "UPDATE outbox SET status = CASE WHEN attempts >= $4 THEN 'dead' ELSE 'pending' END, \
                    run_after = $5, leased_until = NULL, last_error = $3, updated_at = $6 \
              WHERE id = $1 AND lease_owner = $2 RETURNING status, ordering_key",
        )
        .bind::<Int8, _>(id)
        .bind::<Text, _>(owner)
        .bind::<Text, _>(error)
        .bind::<diesel::sql_types::Integer, _>(max_attempts)
        .bind::<Timestamptz, _>(now + delay)
        .bind::<Timestamptz, _>(now)
        .get_result(conn)
        .optional()?;
        let Some(failed) = failed else {
            return Ok(false);
        };
        if failed.status == "dead" {
            release_next(conn, failed.ordering_key.as_deref())?;
        }
        Ok(true)
    }

    /// Clears expired leases (their runner died); returns how many.
    pub fn reap_expired_leases(conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::update(
            outbox::table
                .filter(outbox::status.eq("pending"))
                .filter(outbox::leased_until.lt(Utc::now())),
        )
        .set((
            outbox::leased_until.eq(None::<DateTime<Utc>>),
            outbox::lease_owner.eq(None::<String>),
        ))
        .execute(conn)
    }

    /// Releases every ordering key's head that is still held (the item it waited for was
    /// erased); returns how many. Visits one index entry per ordering key with pending items
    /// (`outbox_ordering_idx`), never the items behind them.
    pub fn release_held_heads(conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::sql_query(
            "WITH RECURSIVE head AS ( \
               (SELECT ordering_key, id FROM outbox \
                 WHERE status = 'pending' AND ordering_key IS NOT NULL \
                 ORDER BY ordering_key, id LIMIT 1) \
               UNION ALL \
               SELECT n.ordering_key, n.id FROM head \
                 CROSS JOIN LATERAL ( \
                   SELECT ordering_key, id FROM outbox \
                    WHERE status = 'pending' AND ordering_key IS NOT NULL \
                      AND ordering_key > head.ordering_key \
                    ORDER BY ordering_key, id LIMIT 1) n) \
             UPDATE outbox SET held = false FROM head \
              WHERE outbox.id = head.id AND outbox.held AND outbox.status = 'pending'",
        )
        .execute(conn)
    }
}

/// Lets the new head of `key` go now, once its predecessor's outcome is committed (a crash in
/// between leaves it to the reaper). Waits for a claim that has the row locked, so a hold that
/// claim is writing is released too.
fn release_next(conn: &mut PgConnection, key: Option<&str>) -> QueryResult<()> {
    let Some(key) = key else {
        return Ok(());
    };
    diesel::sql_query(
        "WITH next AS ( \
           SELECT id, held FROM outbox \
            WHERE ordering_key = $1 AND status = 'pending' \
            ORDER BY id LIMIT 1 FOR UPDATE) \
         UPDATE outbox SET held = false FROM next \
          WHERE outbox.id = next.id AND next.held",
    )
    .bind::<Text, _>(key)
    .execute(conn)?;
    Ok(())
}
