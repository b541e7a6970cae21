//! Erase: every row stored about a subject removed (or cleared), with an audit tombstone (an
//! instance's outbox in batches first, the rest in one transaction); and the dry-run count of
//! what that would remove.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use uuid::Uuid;

use super::super::audit::{Actor, NewAuditRow, Outcome};
use super::super::secret::SecretColumn;
use super::registry::{PSEUDONYMISED, TableSpec, own_rows, specs};
use super::scope::{Scope, audit_count, bind, resolve};
use super::{LifecycleError, Subject, not_found};

/// What an erase removed (or, dry, would remove): rows per table, in erase order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EraseReport {
    pub deleted: Vec<(String, usize)>,
    /// rows kept but with the user's reference cleared
    pub pseudonymised: Vec<(String, usize)>,
    /// audit rows naming the subject, kept (append-only)
    pub audit_kept: usize,
    /// Microsoft users whose Teams-side rows were kept: another instance links them
    pub kept_shared_ms_users: usize,
}

impl EraseReport {
    /// Rows deleted in all.
    pub fn total(&self) -> usize {
        self.deleted.iter().map(|(_, n)| n).sum::<usize>()
            + self.pseudonymised.iter().map(|(_, n)| n).sum::<usize>()
    }

    /// `table=n` pairs for the tombstone and logs (tables with rows only).
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .deleted
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        parts.extend(
            self.pseudonymised
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| format!("{t}(cleared)={n}")),
        );
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The tombstone's "secret" column: erasures are audited in the same append-only table.
const ERASURE_USER: SecretColumn = SecretColumn {
    kind: "erasure",
    table: "user_mapping",
    column: "",
};
const ERASURE_INSTANCE: SecretColumn = SecretColumn {
    kind: "erasure",
    table: "jira_instance",
    column: "",
};

/// Counts what an erase would remove, changing nothing.
pub fn erase_preview(
    conn: &mut PgConnection,
    subject: &Subject,
) -> Result<EraseReport, LifecycleError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let s = resolve(conn, subject, true)?;
            let mut report = EraseReport::default();
            for spec in specs() {
                let pseudo = !s.whole && PSEUDONYMISED.iter().any(|(t, _, _)| *t == spec.table);
                let n = count(conn, &s, &spec, pseudo)?;
                report.deleted.push((spec.table.into(), n.0));
                if pseudo {
                    report.pseudonymised.push((spec.table.into(), n.1));
                }
            }
            report.audit_kept = usize::try_from(audit_count(conn, &s)?).unwrap_or(0);
            report.kept_shared_ms_users = s.shared_ms_users.len();
            if report.total() == 0 {
                return Err(not_found(subject));
            }
            Ok(report)
        })
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// (rows to delete, rows to pseudonymise) of one table.
fn count(
    conn: &mut PgConnection,
    s: &Scope,
    spec: &TableSpec,
    pseudo: bool,
) -> QueryResult<(usize, usize)> {
    let all: Counted = bind(
        format!(
            "SELECT count(*) AS n FROM {} WHERE {}",
            spec.table, spec.filter
        ),
        s,
    )
    .get_result(conn)?;
    if !pseudo {
        return Ok((all.n as usize, 0));
    }
    let own: Counted = bind(
        format!(
            "SELECT count(*) AS n FROM {} WHERE ({}) AND {}",
            spec.table,
            spec.filter,
            own_rows(spec.table)
        ),
        s,
    )
    .get_result(conn)?;
    Ok((own.n as usize, (all.n - own.n) as usize))
}

/// Outbox rows of an instance deleted per transaction by an instance erase.
pub const ERASE_BATCH: i64 = 5_000;

/// Erases everything stored about the subject and appends the tombstone (who erased what,
/// counts; no personal data beyond the identifier typed). `progress` is told each table's count
/// as it goes.
///
/// A user is erased in one transaction. An instance is first disabled (its webhooks are refused
/// from then on, so no new work is queued for it), then its outbox rows are deleted in batches of
/// [`ERASE_BATCH`], each its own short transaction, and the rest goes in one transaction with the
/// tombstone. No lock is taken that another instance's work waits on: the instance row is
/// locked `FOR NO KEY UPDATE`, which the foreign-key checks of inserts (`FOR KEY SHARE`) do not
/// wait for. An instance erase that stops half-way leaves the instance disabled with part of its
/// deliveries gone; running it again finishes it.
pub fn erase(
    conn: &mut PgConnection,
    subject: &Subject,
    actor: &Actor,
    purpose: &str,
    mut progress: impl FnMut(&str, usize),
) -> Result<EraseReport, LifecycleError> {
    // the audit rows kept, counted before the erase's transaction (append-only rows: the count
    // cannot change meaning, and for a large instance it reads millions of rows)
    let audit_kept = {
        let s = resolve(conn, subject, true)?;
        usize::try_from(audit_count(conn, &s)?).unwrap_or(0)
    };
    let mut batched = 0usize;
    if let Subject::Instance { .. } = subject {
        let instance = resolve(conn, subject, true)?.instance.id;
        conn.transaction(|conn| {
            diesel::sql_query(
                "UPDATE jira_instance SET enabled = false, updated_at = now() WHERE id = $1",
            )
            .bind::<SqlUuid, _>(instance)
            .execute(conn)
        })?;
        let mut after = 0i64;
        loop {
            let b: Batch = diesel::sql_query(
                // the batch's ids picked first, then deleted by primary key (an `IN` subquery
                // may be planned as a join scanning the whole outbox per batch); the loop goes
                // on while a full batch was picked, whatever other deleters (retention) took
                "WITH p AS (SELECT ARRAY( \
                     SELECT id FROM outbox WHERE jira_instance_id = $1 AND id > $2 \
                      ORDER BY jira_instance_id, id LIMIT $3) AS ids), \
                 d AS (DELETE FROM outbox o USING p WHERE o.id = ANY(p.ids) RETURNING o.id) \
                 SELECT (SELECT count(*) FROM d) AS n, coalesce(cardinality(ids), 0)::int8 AS picked, \
                        coalesce(ids[cardinality(ids)], 0) AS last FROM p",
            )
            .bind::<SqlUuid, _>(instance)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(ERASE_BATCH)
            .get_result(conn)?;
            batched += usize::try_from(b.n).unwrap_or(0);
            after = b.last;
            if batched > 0 && batched.is_multiple_of(100_000) {
                progress("outbox (so far)", batched);
            }
            if b.picked < ERASE_BATCH {
                break;
            }
        }
    }
    erase_rest(
        conn,
        subject,
        actor,
        purpose,
        (batched, audit_kept),
        progress,
    )
}

#[derive(QueryableByName)]
struct Batch {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    picked: i64,
    #[diesel(sql_type = BigInt)]
    last: i64,
}

/// The erase's one transaction: every table of the registry (for an instance, the outbox rows
/// the batches left or that arrived meanwhile; `batched` are added to its count), the tombstone
/// (with `audit_kept`, counted before).
fn erase_rest(
    conn: &mut PgConnection,
    subject: &Subject,
    actor: &Actor,
    purpose: &str,
    (batched, audit_kept): (usize, usize),
    mut progress: impl FnMut(&str, usize),
) -> Result<EraseReport, LifecycleError> {
    conn.transaction(|conn| {
        let s = resolve(conn, subject, true)?;
        // one eraser at a time per instance; NO KEY UPDATE: inserts referencing the instance
        // (webhooks, deliveries of this and every other instance) do not wait for it
        diesel::sql_query("SELECT id FROM jira_instance WHERE id = $1 FOR NO KEY UPDATE")
            .bind::<SqlUuid, _>(s.instance.id)
            .execute(conn)?;
        let mut report = EraseReport {
            audit_kept,
            kept_shared_ms_users: s.shared_ms_users.len(),
            ..Default::default()
        };
        for spec in specs() {
            let pseudo = PSEUDONYMISED
                .iter()
                .find(|(t, _, _)| !s.whole && *t == spec.table);
            let mut n = match pseudo {
                None => bind(
                    format!("DELETE FROM {} WHERE {}", spec.table, spec.filter),
                    &s,
                )
                .execute(conn)?,
                Some((table, column, value)) => {
                    let own = bind(
                        format!(
                            "DELETE FROM {table} WHERE ({}) AND {}",
                            spec.filter,
                            own_rows(table)
                        ),
                        &s,
                    )
                    .execute(conn)?;
                    let cleared = bind(
                        format!(
                            "UPDATE {table} SET {column} = {value} WHERE {}",
                            spec.filter
                        ),
                        &s,
                    )
                    .execute(conn)?;
                    report.pseudonymised.push(((*table).into(), cleared));
                    own
                }
            };
            if spec.table == "outbox" {
                n += batched;
            }
            progress(spec.table, n);
            report.deleted.push((spec.table.into(), n));
        }
        if report.total() == 0 {
            return Err(not_found(subject));
        }
        let (column, row) = match subject {
            Subject::User { .. } => (ERASURE_USER, s.mappings.first().copied()),
            Subject::Instance { .. } => (ERASURE_INSTANCE, Some(s.instance.id)),
        };
        let detail = format!(
            "{}; kept: {} audit row(s) (append-only){}",
            report.summary(),
            report.audit_kept,
            if report.kept_shared_ms_users > 0 {
                format!(
                    ", Teams-side rows of {} Microsoft user(s) linked in another instance",
                    report.kept_shared_ms_users
                )
            } else {
                String::new()
            }
        );
        NewAuditRow {
            actor,
            column,
            row: row.unwrap_or(Uuid::nil()),
            label: &subject.label(),
            purpose,
            outcome: Outcome::Ok,
            detail: Some(&detail),
        }
        .insert(conn)?;
        Ok(report)
    })
}
