//! Retention: delivered and dead outbox rows, and secret access audit rows, older than the
//! configured number of days are deleted, and so are Jira user sessions that ended (idle too
//! long or past their absolute end), their sealed Jira tokens with them. Audit rows go only through the path the
//! `secret_access_audit` trigger permits (a transaction-local horizon of at least 30 days).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

/// Rows deleted per statement, so a large backlog never holds long locks.
const BATCH: i64 = 5_000;

/// The shortest audit horizon the database accepts (the trigger refuses anything shorter).
pub const MIN_AUDIT_DAYS: u32 = 30;

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub outbox: usize,
    pub audit: usize,
    /// Jira user sessions that had ended.
    pub sessions: usize,
}

/// Deletes delivered (`done`) and given-up (`dead`) outbox rows last touched more than `days`
/// days ago, in batches; `days == 0` keeps them forever. `progress` gets the running total.
pub fn prune_outbox(
    conn: &mut PgConnection,
    days: u32,
    mut progress: impl FnMut(usize),
) -> QueryResult<usize> {
    if days == 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let n = diesel::sql_query(
            "DELETE FROM outbox WHERE id IN ( \
               SELECT id FROM outbox WHERE status IN ('done', 'dead') \
                  AND updated_at < now() - make_interval(days => $1) LIMIT $2)",
        )
        .bind::<Integer, _>(days as i32)
        .bind::<BigInt, _>(BATCH)
        .execute(conn)?;
        total += n;
        progress(total);
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Deletes audit rows older than `days` days (`0` keeps them forever), in batches, each in a
/// transaction that sets the horizon the trigger checks. A horizon under
/// [`MIN_AUDIT_DAYS`] is refused by the database.
pub fn prune_audit(
    conn: &mut PgConnection,
    days: u32,
    mut progress: impl FnMut(usize),
) -> QueryResult<usize> {
    if days == 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let n = conn.transaction(|conn| {
            diesel::sql_query("SELECT set_config('jtb.audit_retention_days', $1, true)")
                .bind::<Text, _>(days.to_string())
                .execute(conn)?;
            diesel::sql_query(
                "DELETE FROM secret_access_audit WHERE id IN ( \
                   SELECT id FROM secret_access_audit \
                    WHERE at < now() - make_interval(days => $1) ORDER BY at LIMIT $2)",
            )
            .bind::<Integer, _>(days as i32)
            .bind::<BigInt, _>(BATCH)
            .execute(conn)
        })?;
        total += n;
        progress(total);
        if (n as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Deletes Jira user sessions idle for `idle_mins` minutes or past their absolute end. Such a
/// session is already refused when used; this removes what a user who just left would
/// otherwise keep (their sealed Jira token) until the absolute end.
pub fn prune_sessions(conn: &mut PgConnection, idle_mins: i64) -> QueryResult<usize> {
    super::jira_user_session::JiraUserSession::purge_expired(
        conn,
        chrono::Duration::minutes(idle_mins),
    )
}

/// One pass of all three, unless another daemon is pruning right now (then nothing, `None`).
/// `session_idle_mins` is `jira.user_session_idle_mins`.
pub fn prune(
    conn: &mut PgConnection,
    outbox_days: u32,
    audit_days: u32,
    session_idle_mins: i64,
    mut progress: impl FnMut(&str, usize),
) -> QueryResult<Option<PruneReport>> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let got: Locked =
        diesel::sql_query("SELECT pg_try_advisory_lock(7164033) AS locked").get_result(conn)?;
    if !got.locked {
        return Ok(None);
    }
    let result = (|| {
        Ok(PruneReport {
            outbox: prune_outbox(conn, outbox_days, |n| progress("outbox", n))?,
            audit: prune_audit(conn, audit_days, |n| progress("secret_access_audit", n))?,
            sessions: {
                let n = prune_sessions(conn, session_idle_mins)?;
                progress("jira_user_session", n);
                n
            },
        })
    })();
    diesel::sql_query("SELECT pg_advisory_unlock(7164033)").execute(conn)?;
    result.map(Some)
}
