//! Hourly activity counts behind the dashboard charts, shared by every daemon on the database:
//! each adds its counts with one UPSERT, so nothing is lost on restart or counted twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::activity_bucket;

/// One hour's count of one counter.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = activity_bucket)]
pub struct ActivityBucket {
    pub bucket_start: DateTime<Utc>,
    pub counter: String,
    pub value: i64,
}

impl ActivityBucket {
    /// Adds `counts` (hour start, counter, increment) in one statement; returns rows touched.
    pub fn add(
        conn: &mut PgConnection,
        counts: &[(DateTime<Utc>, &str, i64)],
    ) -> QueryResult<usize> {
        if counts.is_empty() {
            return Ok(0);
        }
        let rows: Vec<_> = counts
            .iter()
            .map(|(hour, counter, n)| {
                (
                    activity_bucket::bucket_start.eq(*hour),
                    activity_bucket::counter.eq(*counter),
                    activity_bucket::value.eq(*n),
                )
            })
            .collect();
        diesel::insert_into(activity_bucket::table)
            .values(rows)
            .on_conflict((activity_bucket::bucket_start, activity_bucket::counter))
            .do_update()
            .set(
                activity_bucket::value
                    .eq(activity_bucket::value + excluded(activity_bucket::value)),
            )
            .execute(conn)
    }

    /// Every bucket from `from` on, oldest first.
    pub fn since(conn: &mut PgConnection, from: DateTime<Utc>) -> QueryResult<Vec<ActivityBucket>> {
        activity_bucket::table
            .filter(activity_bucket::bucket_start.ge(from))
            .order(activity_bucket::bucket_start)
            .select(ActivityBucket::as_select())
            .load(conn)
    }

    /// Deletes buckets that started before `before`; returns how many.
    pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
        diesel::delete(activity_bucket::table.filter(activity_bucket::bucket_start.lt(before)))
            .execute(conn)
    }
}
