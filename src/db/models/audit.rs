//! The append-only secret access audit (the table refuses UPDATE, DELETE and TRUNCATE).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::secret_column::SecretColumn;
use crate::db::keyset::{self, Page, RowCount, Window};
use crate::db::schema::secret_access_audit;

/// Who read a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in admin (user name).
    Admin(String),
    /// A caller of the API (e.g. `tHXLY2:JIRAUSER10100`).
    Api(String),
    /// A background job (job name).
    Job(String),
    /// The command line (`rotate-key`).
    Cli(String),
    /// The daemon itself.
    System(String),
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Admin(_) => "admin",
            Actor::Api(_) => "api",
            Actor::Job(_) => "job",
            Actor::Cli(_) => "cli",
            Actor::System(_) => "system",
        }
    }

    fn name(&self) -> &str {
        match self {
            Actor::Admin(s) | Actor::Api(s) | Actor::Job(s) | Actor::Cli(s) | Actor::System(s) => s,
        }
    }
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Missing,
    /// A secret typed for one request, sent where it was meant for and never stored (a Jira
    /// administrator's personal access token).
    UsedNotStored,
    /// Such a secret, refused by the service it was meant for (HTTP 401/403).
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Missing => "missing",
            Outcome::UsedNotStored => "used_not_stored",
            Outcome::Refused => "refused",
        }
    }
}

/// One audit row to write.
pub struct NewAuditRow<'a> {
    pub actor: &'a Actor,
    pub column: SecretColumn,
    pub row: Uuid,
    pub label: &'a str,
    pub purpose: &'a str,
    pub outcome: Outcome,
    pub detail: Option<&'a str>,
}

impl NewAuditRow<'_> {
    /// Appends the row.
    pub fn insert(&self, conn: &mut PgConnection) -> QueryResult<usize> {
        let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        diesel::insert_into(secret_access_audit::table)
            .values((
                secret_access_audit::actor_kind.eq(self.actor.kind()),
                secret_access_audit::actor.eq(clip(self.actor.name(), 255)),
                secret_access_audit::secret_kind.eq(self.column.kind),
                secret_access_audit::secret_table.eq(self.column.table),
                secret_access_audit::secret_row.eq(self.row),
                secret_access_audit::secret_label.eq(clip(self.label, 255)),
                secret_access_audit::purpose.eq(clip(self.purpose, 255)),
                secret_access_audit::outcome.eq(self.outcome.as_str()),
                secret_access_audit::detail.eq(self.detail.map(|d| clip(d, 1024))),
            ))
            .execute(conn)
    }
}

/// A stored audit row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = secret_access_audit)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor: String,
    pub secret_kind: String,
    pub secret_table: String,
    pub secret_row: Uuid,
    pub secret_label: String,
    pub purpose: String,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Filter for the audit page.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only reads of this secret row.
    pub secret_row: Option<Uuid>,
    /// Only this kind of secret.
    pub secret_kind: Option<String>,
}

impl AuditFilter {
    fn is_empty(&self) -> bool {
        self.secret_row.is_none() && self.secret_kind.is_none()
    }
}

impl AuditRow {
    /// The page `window` of `limit` rows, newest first, read on the primary key or, filtered,
    /// on the `(secret_row, id DESC)` / `(secret_kind, id DESC)` indexes: the same cost on the
    /// first page as on the last, whatever the log holds.
    pub fn page(
        conn: &mut PgConnection,
        filter: &AuditFilter,
        window: &Window<i64>,
        limit: i64,
    ) -> QueryResult<Page<AuditRow>> {
        keyset::read(window, limit, |s| {
            let mut q = secret_access_audit::table.into_boxed();
            if let Some(row) = filter.secret_row {
                q = q.filter(secret_access_audit::secret_row.eq(row));
            }
            if let Some(kind) = &filter.secret_kind {
                q = q.filter(secret_access_audit::secret_kind.eq(kind.clone()));
            }
            let desc = s.descending(true);
            if let Some(k) = s.from {
                q = if desc {
                    q.filter(secret_access_audit::id.lt(*k))
                } else {
                    q.filter(secret_access_audit::id.gt(*k))
                };
            }
            q = if desc {
                q.order(secret_access_audit::id.desc())
            } else {
                q.order(secret_access_audit::id.asc())
            };
            q.limit(s.limit).select(AuditRow::as_select()).load(conn)
        })
    }

    /// How many rows match: the planner's estimate of the whole log, or for a filter a count
    /// that stops after [`keyset::COUNT_CAP`] rows.
    pub fn count(conn: &mut PgConnection, filter: &AuditFilter) -> QueryResult<RowCount> {
        if filter.is_empty() {
            return keyset::table_size(conn, "secret_access_audit");
        }
        #[derive(QueryableByName)]
        struct Counted {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut wheres = Vec::new();
        if filter.secret_row.is_some() {
            wheres.push(format!("secret_row = ${}", wheres.len() + 1));
        }
        if filter.secret_kind.is_some() {
            wheres.push(format!("secret_kind = ${}", wheres.len() + 1));
        }
        let mut q = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM secret_access_audit WHERE {} LIMIT {}) capped",
            wheres.join(" AND "),
            keyset::COUNT_CAP + 1
        ))
        .into_boxed();
        if let Some(row) = filter.secret_row {
            q = q.bind::<diesel::sql_types::Uuid, _>(row);
        }
        if let Some(kind) = &filter.secret_kind {
            q = q.bind::<diesel::sql_types::Text, _>(kind.clone());
        }
        let c: Counted = q.get_result(conn)?;
        Ok(RowCount::from_capped(c.n))
    }
}
