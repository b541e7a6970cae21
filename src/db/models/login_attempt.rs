//! Login attempts, for throttling repeated failures per (user name, address) and per address.
//! An attempt is recorded as a failure before the password is checked, so parallel guesses
//! cannot all slip under the limit.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use crate::db::schema::login_attempt;

/// Recording and counting login attempts.
pub struct LoginAttempt;

/// Per address, this many times `max_failures` (any user names) blocks the address.
pub const PER_ADDRESS_FACTOR: i64 = 4;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The outcome of starting an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead and check the password; the attempt (id) is recorded as failed until marked.
    Allowed {
        attempt_id: i64,
        earlier_failures: i64,
    },
    /// Too many recent failures.
    Blocked { failures: i64 },
}

impl LoginAttempt {
    /// Counts recent failures and, under the limits, records this attempt as a failure.
    /// Serialised per user name and address so parallel requests see each other.
    pub fn begin(
        conn: &mut PgConnection,
        username: &str,
        client_ip: &str,
        since: DateTime<Utc>,
        max_failures: i64,
    ) -> QueryResult<Admission> {
        let username: String = username.chars().take(256).collect();
        let client_ip: String = client_ip.chars().take(64).collect();
        conn.transaction(|conn| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext(lower($1) || '|' || $2))")
                .bind::<Text, _>(&username)
                .bind::<Text, _>(&client_ip)
                .execute(conn)?;
            let by_user: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM login_attempt a WHERE lower(a.username) = lower($1) AND a.client_ip = $2 \
                 AND NOT a.succeeded AND a.at > $3 \
                 AND a.at > COALESCE((SELECT max(at) FROM login_attempt s WHERE lower(s.username) = lower($1) \
                                      AND s.client_ip = $2 AND s.succeeded), '-infinity')",
            )
            .bind::<Text, _>(&username)
            .bind::<Text, _>(&client_ip)
            .bind::<Timestamptz, _>(since)
            .get_result(conn)?;
            let by_ip: Count = diesel::sql_query("SELECT count(*) AS n FROM login_attempt WHERE client_ip = $1 AND NOT succeeded AND at > $2")
                .bind::<Text, _>(&client_ip)
                .bind::<Timestamptz, _>(since)
                .get_result(conn)?;
            if by_user.n >= max_failures || by_ip.n >= max_failures * PER_ADDRESS_FACTOR {
                return Ok(Admission::Blocked { failures: by_user.n.max(by_ip.n) });
            }
            let attempt_id = diesel::insert_into(login_attempt::table)
                .values((login_attempt::username.eq(&username), login_attempt::client_ip.eq(&client_ip), login_attempt::succeeded.eq(false)))
                .returning(login_attempt::id)
                .get_result(conn)?;
            Ok(Admission::Allowed { attempt_id, earlier_failures: by_user.n })
        })
    }

    /// Marks an attempt as successful (the password matched).
    pub fn mark_succeeded(conn: &mut PgConnection, attempt_id: i64) -> QueryResult<usize> {
        diesel::update(login_attempt::table.find(attempt_id))
            .set(login_attempt::succeeded.eq(true))
            .execute(conn)
    }

    /// Drops attempts older than `before`.
    pub fn purge_before(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
        diesel::delete(login_attempt::table.filter(login_attempt::at.lt(before))).execute(conn)
    }
}
