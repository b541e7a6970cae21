//! Login attempts, for throttling repeated failures per user name and per client address.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use crate::db::schema::login_attempt;

/// Recording and counting login attempts.
pub struct LoginAttempt;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl LoginAttempt {
    /// Records one attempt.
    pub fn record(
        conn: &mut PgConnection,
        username: &str,
        client_ip: &str,
        succeeded: bool,
    ) -> QueryResult<usize> {
        let username: String = username.chars().take(256).collect();
        let client_ip: String = client_ip.chars().take(64).collect();
        diesel::insert_into(login_attempt::table)
            .values((
                login_attempt::username.eq(username),
                login_attempt::client_ip.eq(client_ip),
                login_attempt::succeeded.eq(succeeded),
            ))
            .execute(conn)
    }

    /// Failures since `since` for this user name (case-insensitive) or from this address, counted
    /// after the last success of that user name.
    pub fn recent_failures(
        conn: &mut PgConnection,
        username: &str,
        client_ip: &str,
        since: DateTime<Utc>,
    ) -> QueryResult<i64> {
        let by_user: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM login_attempt a WHERE lower(a.username) = lower($1) AND NOT a.succeeded AND a.at > $2 \
             AND a.at > COALESCE((SELECT max(at) FROM login_attempt s WHERE lower(s.username) = lower($1) AND s.succeeded), '-infinity')",
        )
        .bind::<Text, _>(username)
        .bind::<Timestamptz, _>(since)
        .get_result(conn)?;
        let by_ip: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM login_attempt WHERE client_ip = $1 AND NOT succeeded AND at > $2",
        )
        .bind::<Text, _>(client_ip)
        .bind::<Timestamptz, _>(since)
        .get_result(conn)?;
        Ok(by_user.n.max(by_ip.n / 4))
    }

    /// Drops attempts older than `before`.
    pub fn purge_before(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
        diesel::delete(login_attempt::table.filter(login_attempt::at.lt(before))).execute(conn)
    }
}
