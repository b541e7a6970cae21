//! The one place secrets are read: fetch + decrypt + audit row, in one transaction, so no
//! caller can forget the audit. Also writing (encrypting) secrets and re-encrypting all of them
//! under a new key version (`rotate-key`).

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Nullable, Uuid as SqlUuid};
use secrecy::SecretString;
use uuid::Uuid;

use crate::crypto::{SecretLocation, Vault, VaultError};
use crate::db::DbError;
use crate::db::models::audit::{Actor, NewAuditRow, Outcome};

/// The catalogue of encrypted columns lives in `secret_column` (the audit rows name them too);
/// it is re-exported here so that a caller of the secret store names one module.
pub use super::secret_column::{
    ACCESS_TOKEN, ALL_SECRET_COLUMNS, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN,
    JIRA_OAUTH_CLIENT_SECRET, JIRA_SESSION_REFRESH_TOKEN, JIRA_SESSION_TOKEN, JIRA_SHARED_SECRET,
    JIRA_WEBHOOK_SECRET, MICROSOFT_CLIENT_CERTIFICATE, MICROSOFT_CLIENT_SECRET, REFRESH_TOKEN,
    SecretColumn, TEAMS_FLOW_JIRA_REFRESH_TOKEN, TEAMS_FLOW_JIRA_TOKEN,
};

impl SecretColumn {
    /// The vault location of this column in one row.
    pub fn at(&self, row: Uuid) -> SecretLocation {
        SecretLocation {
            table: self.table,
            column: self.column,
            row,
        }
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretReadError {
    #[error("secret not found")]
    Missing,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("secret is not valid UTF-8")]
    NotText,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("secrets are read outside other transactions, so the audit row cannot be rolled back")]
    InTransaction,
}

fn in_transaction(conn: &mut PgConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    !matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    )
}

#[derive(QueryableByName)]
struct Blob {
    #[diesel(sql_type = Nullable<Bytea>)]
    blob: Option<Vec<u8>>,
}

#[derive(QueryableByName)]
struct RowBlob {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Bytea)]
    blob: Vec<u8>,
}

/// What to write into the audit row besides the outcome.
#[derive(Debug, Clone)]
pub struct ReadContext<'a> {
    pub actor: &'a Actor,
    pub purpose: &'a str,
    pub label: &'a str,
}

/// Reads and decrypts one secret; writes the audit row (whatever the outcome) in the same
/// transaction. The transaction commits even when decryption fails, so failures are audited.
pub fn read(
    conn: &mut PgConnection,
    vault: &Vault,
    col: SecretColumn,
    row: Uuid,
    ctx: &ReadContext<'_>,
) -> Result<SecretString, SecretReadError> {
    if in_transaction(conn) {
        return Err(SecretReadError::InTransaction);
    }
    let outcome: Result<Result<SecretString, SecretReadError>, DbError> =
        conn.transaction(|conn| {
            let sql = format!(
                "SELECT {} AS blob FROM {} WHERE id = $1",
                col.column, col.table
            );
            let found: Option<Blob> = diesel::sql_query(sql)
                .bind::<SqlUuid, _>(row)
                .get_result(conn)
                .optional()?;
            let result = match found.and_then(|b| b.blob) {
                None => Err(SecretReadError::Missing),
                Some(blob) => match vault.decrypt(&blob, &col.at(row)) {
                    Ok(plain) => String::from_utf8(plain.to_vec())
                        .map(SecretString::from)
                        .map_err(|_| SecretReadError::NotText),
                    Err(e) => Err(SecretReadError::Vault(e)),
                },
            };
            let (outcome, detail) = match &result {
                Ok(_) => (Outcome::Ok, None),
                Err(SecretReadError::Missing) => (Outcome::Missing, None),
                Err(e) => (Outcome::Failed, Some(e.to_string())),
            };
            NewAuditRow {
                actor: ctx.actor,
                column: col,
                row,
                label: ctx.label,
                purpose: ctx.purpose,
                outcome,
                detail: detail.as_deref(),
            }
            .insert(conn)?;
            Ok(result)
        });
    outcome?
}

/// Encrypts a secret for a row that will hold it (the row id must be known up front).
pub fn seal(
    vault: &Vault,
    col: SecretColumn,
    row: Uuid,
    plaintext: &str,
) -> Result<Vec<u8>, VaultError> {
    vault.encrypt(plaintext.as_bytes(), &col.at(row))
}

/// Counts of what a rotation re-encrypted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub reencrypted: usize,
    pub per_column: Vec<(String, usize)>,
}

/// A decryption done by a rotation, to be audited whether the rotation commits or not.
#[derive(Debug, Clone)]
pub struct PendingAudit {
    pub column: SecretColumn,
    pub row: Uuid,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

/// Writes the audit rows a rotation collected.
pub fn write_audits(
    conn: &mut PgConnection,
    actor: &Actor,
    purpose: &str,
    audits: &[PendingAudit],
) -> QueryResult<()> {
    for a in audits {
        NewAuditRow {
            actor,
            column: a.column,
            row: a.row,
            label: "",
            purpose,
            outcome: a.outcome,
            detail: a.detail.as_deref(),
        }
        .insert(conn)?;
    }
    Ok(())
}

/// Re-encrypts every secret under `vault`'s current key version, in the caller's transaction,
/// locking the rows it rewrites. Every decryption is pushed to `audits` (the caller writes them,
/// also when the transaction rolls back). Stops at the first secret that does not decrypt.
pub fn reencrypt_all(
    conn: &mut PgConnection,
    vault: &Vault,
    audits: &mut Vec<PendingAudit>,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<RotationReport, SecretReadError> {
    let mut report = RotationReport::default();
    for col in ALL_SECRET_COLUMNS {
        let sql = format!(
            "SELECT id, {c} AS blob FROM {t} WHERE {c} IS NOT NULL ORDER BY id FOR UPDATE",
            c = col.column,
            t = col.table
        );
        let rows: Vec<RowBlob> = diesel::sql_query(sql).load(conn).map_err(DbError::from)?;
        let total = rows.len();
        for (i, r) in rows.into_iter().enumerate() {
            let loc = col.at(r.id);
            let plain = vault.decrypt(&r.blob, &loc);
            audits.push(PendingAudit {
                column: *col,
                row: r.id,
                outcome: if plain.is_ok() {
                    Outcome::Ok
                } else {
                    Outcome::Failed
                },
                detail: plain.as_ref().err().map(|e| e.to_string()),
            });
            let plain = plain?;
            let fresh = vault.encrypt(&plain, &loc)?;
            let update = format!(
                "UPDATE {t} SET {c} = $1 WHERE id = $2",
                c = col.column,
                t = col.table
            );
            diesel::sql_query(update)
                .bind::<Bytea, _>(fresh)
                .bind::<SqlUuid, _>(r.id)
                .execute(conn)
                .map_err(DbError::from)?;
            progress(&format!("{}.{}", col.table, col.column), i + 1, total);
        }
        report.reencrypted += total;
        report
            .per_column
            .push((format!("{}.{}", col.table, col.column), total));
    }
    Ok(report)
}

/// Locks every table holding secrets against writes until the transaction ends, so the key
/// versions in use cannot change while old keys are retired.
pub fn lock_secret_tables(conn: &mut PgConnection) -> QueryResult<()> {
    let mut tables: Vec<&str> = ALL_SECRET_COLUMNS.iter().map(|c| c.table).collect();
    tables.dedup();
    diesel::sql_query(format!("LOCK TABLE {} IN SHARE MODE", tables.join(", "))).execute(conn)?;
    Ok(())
}

/// Key versions still used by any ciphertext.
pub fn versions_in_use(conn: &mut PgConnection) -> Result<Vec<u32>, DbError> {
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        v: i32,
    }
    let mut out = Vec::new();
    for col in ALL_SECRET_COLUMNS {
        // bytes 5..8 of the blob are the big-endian key version (see crypto::vault)
        let sql = format!(
            "SELECT DISTINCT get_byte({c},4)*16777216 + get_byte({c},5)*65536 + get_byte({c},6)*256 + get_byte({c},7) AS v \
             FROM {t} WHERE {c} IS NOT NULL",
            c = col.column,
            t = col.table
        );
        let vs: Vec<V> = diesel::sql_query(sql).load(conn)?;
        out.extend(vs.into_iter().map(|v| v.v as u32));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// How many secrets are stored, over every secret column (the total `rotate-key` reports
/// progress against).
pub fn count_all(conn: &mut PgConnection) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut total = 0;
    for col in ALL_SECRET_COLUMNS {
        let sql = format!(
            "SELECT count(*) AS n FROM {t} WHERE {c} IS NOT NULL",
            c = col.column,
            t = col.table
        );
        total += diesel::sql_query(sql).get_result::<N>(conn)?.n as usize;
    }
    Ok(total)
}
