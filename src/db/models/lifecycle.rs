//! Data lifecycle: export everything stored about one linked user or one Jira instance (secrets
//! redacted), and erase it all in one transaction leaving an audit tombstone. One
//! implementation for the CLI (`export`, `erase`) and the admin UI.
//!
//! A user is `<public_id>:<jira_user_key>`. Rows on the Microsoft side (Teams user settings,
//! bot actions, the personal bot installation) are keyed by Teams ids, not by instance: they
//! are exported always, and erased only when no other instance links the same Microsoft user.

use std::collections::BTreeMap;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Array, Bool, Jsonb, Text, Uuid as SqlUuid};
use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::{Actor, NewAuditRow, Outcome};
use super::jira_instance::JiraInstance;
use super::secret::SecretColumn;
use super::user_mapping::UserMapping;

/// Whose data: one user of one instance, or a whole instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `<public_id>:<jira_user_key>`.
    User {
        public_id: String,
        jira_user_key: String,
    },
    /// A Jira instance by public ID.
    Instance { public_id: String },
}

impl Subject {
    /// Parses `<public_id>:<jira_user_key>` (the key may itself contain `:`).
    pub fn parse_user(s: &str) -> Result<Subject, LifecycleError> {
        match s.split_once(':') {
            Some((p, k)) if !p.trim().is_empty() && !k.trim().is_empty() && k.len() <= 255 => {
                Ok(Subject::User {
                    public_id: p.trim().to_owned(),
                    jira_user_key: k.trim().to_owned(),
                })
            }
            _ => Err(LifecycleError::BadArgument(
                "a user is <public_id>:<jira_user_key>, e.g. tHXLY2:JIRAUSER10100".into(),
            )),
        }
    }

    /// The identifier as typed (what the tombstone keeps).
    pub fn label(&self) -> String {
        match self {
            Subject::User {
                public_id,
                jira_user_key,
            } => format!("{public_id}:{jira_user_key}"),
            Subject::Instance { public_id } => public_id.clone(),
        }
    }
}

/// Why an export or erase could not be done.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadArgument(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The rows one export or erase covers, resolved before anything is read or deleted.
#[derive(Debug, Clone)]
struct Scope {
    instance: JiraInstance,
    whole: bool,
    keys: Vec<String>,
    mappings: Vec<Uuid>,
    ms_users: Vec<Uuid>,
    /// every Teams id of these users (instance-scoped matches such as subscriptions)
    teams_ids: Vec<String>,
    /// Teams ids whose instance-independent rows are in scope
    side_teams_ids: Vec<String>,
    /// personal bot conversations whose rows are in scope
    side_convs: Vec<String>,
    /// Microsoft users also linked in another instance (their Teams-side rows stay)
    shared_ms_users: Vec<Uuid>,
}

const IN_CHATS: &str = "issue_chat_id IN (SELECT id FROM issue_chat WHERE jira_instance_id = $1)";
const IN_OWN_CHATS: &str = "issue_chat_id IN (SELECT id FROM issue_chat WHERE jira_instance_id = $1 AND ($8 OR created_by = ANY($2)))";

/// One table: its row filter (binds: $1 instance, $2 Jira keys, $3 Microsoft user ids,
/// $4 mapping ids, $5 Teams ids, $6 side Teams ids, $7 side conversations, $8 whole instance),
/// columns to redact, and what erasing does to it.
struct TableSpec {
    table: &'static str,
    filter: String,
    encrypted: &'static [&'static str],
    hashed: &'static [&'static str],
    redacted: &'static [&'static str],
    note: Option<&'static str>,
}

/// Tables in erase order (children before parents).
fn specs() -> Vec<TableSpec> {
    let t = |table, filter: &str| TableSpec {
        table,
        filter: filter.to_owned(),
        encrypted: &[],
        hashed: &[],
        redacted: &[],
        note: None,
    };
    vec![
        TableSpec {
            note: Some(
                "queued deliveries naming the user (personal notifications, events about them, messages to their personal bot chat), any status",
            ),
            ..t(
                "outbox",
                "(jira_instance_id = $1 AND ($8 \
                OR payload -> 'event' -> 'involved' ->> 'actor_key' = ANY($2) \
                OR payload -> 'event' -> 'involved' ->> 'assignee_key' = ANY($2) \
                OR payload -> 'event' -> 'involved' ->> 'reporter_key' = ANY($2) \
                OR payload ->> 'aadObjectId' = ANY(CAST($3 AS text[])))) \
                OR payload ->> 'conversationId' = ANY($7) \
                OR dedupe_key = ANY(ARRAY(SELECT 'welcome:' || s FROM unnest($6) s))",
            )
        },
        TableSpec {
            note: Some(
                "instance-independent (keyed by Teams user id); erased only when no other instance links this Microsoft user",
            ),
            ..t("bot_action", "teams_user_id = ANY($6)")
        },
        TableSpec {
            note: Some(
                "instance-independent (matched by aadObjectId in settings); erased only when no other instance links this Microsoft user",
            ),
            ..t("teams_user_setting", "teams_user_id = ANY($6)")
        },
        TableSpec {
            note: Some(
                "instance-independent: only the user's personal bot installation (their 1:1 chat); erased only when no other instance links this Microsoft user",
            ),
            ..t("bot_membership", "conversation_id = ANY($7)")
        },
        TableSpec {
            encrypted: &["ms_token", "ms_refresh_token"],
            hashed: &["start_hash", "browser_hash", "state_hash"],
            redacted: &["pkce_verifier", "nonce"],
            ..t(
                "sign_in_flow",
                "jira_instance_id = $1 AND ($8 OR jira_user_key = ANY($2) OR ms_user_id = ANY($3))",
            )
        },
        TableSpec {
            encrypted: &["jira_token", "jira_refresh_token"],
            hashed: &["token_hash", "code_hash"],
            ..t(
                "teams_sign_in",
                "jira_instance_id = $1 AND ($8 OR jira_user_key = ANY($2) OR aad_object_id = ANY($3))",
            )
        },
        t(
            "channel_subscription",
            "jira_instance_id = $1 AND ($8 OR owner_mapping_id = ANY($4) OR created_by = ANY($5))",
        ),
        TableSpec {
            note: Some(
                "access settings of the user's chats, and those the user set on other chats (on erase the latter keep their setting, `set_by` becomes \"(erased user)\")",
            ),
            ..t(
                "shared_chat_access",
                &format!("{IN_OWN_CHATS} OR (set_by = ANY($2) AND {IN_CHATS})"),
            )
        },
        t(
            "issue_chat_member",
            &format!("{IN_OWN_CHATS} OR (ms_user_id = ANY($3) AND {IN_CHATS})"),
        ),
        t(
            "issue_chat",
            "jira_instance_id = $1 AND ($8 OR created_by = ANY($2))",
        ),
        TableSpec {
            note: Some(
                "for a user: settings they changed last (on erase the setting stays, `updated_by` is cleared)",
            ),
            ..t(
                "instance_setting",
                "jira_instance_id = $1 AND ($8 OR updated_by = ANY($2))",
            )
        },
        TableSpec {
            encrypted: &["token", "refresh_token"],
            note: Some("token values are never exported"),
            ..t(
                "access_token",
                "($8 AND jira_instance_id = $1) OR user_mapping_id = ANY($4)",
            )
        },
        t(
            "user_mapping",
            "jira_instance_id = $1 AND ($8 OR id = ANY($4))",
        ),
        t("jsm_portal_app", "$8 AND jira_instance_id = $1"),
        TableSpec {
            hashed: &["token_hash"],
            ..t("jwt_replay", "$8 AND jira_instance_id = $1")
        },
        TableSpec {
            encrypted: &["shared_secret", "webhook_secret", "oauth_client_secret"],
            hashed: &["webhook_token_hash"],
            ..t("jira_instance", "$8 AND id = $1")
        },
    ]
}

/// Rows whose user reference is cleared on a user erase instead of deleting the row (they
/// belong to someone else too): table, column, new value.
const PSEUDONYMISED: &[(&str, &str, &str)] = &[
    ("shared_chat_access", "set_by", "'(erased user)'"),
    ("instance_setting", "updated_by", "NULL"),
];

fn bind<'a>(sql: String, s: &Scope) -> BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery> {
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<SqlUuid, _>(s.instance.id)
        .bind::<Array<Text>, _>(s.keys.clone())
        .bind::<Array<SqlUuid>, _>(s.ms_users.clone())
        .bind::<Array<SqlUuid>, _>(s.mappings.clone())
        .bind::<Array<Text>, _>(s.teams_ids.clone())
        .bind::<Array<Text>, _>(s.side_teams_ids.clone())
        .bind::<Array<Text>, _>(s.side_convs.clone())
        .bind::<Bool, _>(s.whole)
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Jsonb)]
    row: Value,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct UuidRow {
    #[diesel(sql_type = SqlUuid)]
    v: Uuid,
}

/// Resolves the subject to the ids its rows are found by. `for_erase` limits the
/// instance-independent rows to Microsoft users no other instance links.
fn resolve(
    conn: &mut PgConnection,
    subject: &Subject,
    for_erase: bool,
) -> Result<Scope, LifecycleError> {
    let public_id = match subject {
        Subject::User { public_id, .. } | Subject::Instance { public_id } => public_id,
    };
    let instance = JiraInstance::find_by_public_id(conn, public_id)?.ok_or_else(|| {
        LifecycleError::NotFound(format!("no Jira instance has the public ID {public_id}"))
    })?;
    let (whole, mappings): (bool, Vec<UserMapping>) = match subject {
        Subject::Instance { .. } => (
            true,
            crate::db::schema::user_mapping::table
                .filter(crate::db::schema::user_mapping::jira_instance_id.eq(instance.id))
                .select(UserMapping::as_select())
                .load(conn)?,
        ),
        Subject::User { jira_user_key, .. } => (
            false,
            UserMapping::find(conn, instance.id, jira_user_key)?
                .into_iter()
                .collect(),
        ),
    };
    let keys = match subject {
        Subject::User { jira_user_key, .. } => vec![jira_user_key.clone()],
        Subject::Instance { .. } => mappings.iter().map(|m| m.jira_user_key.clone()).collect(),
    };
    let ms_users: Vec<Uuid> = mappings.iter().map(|m| m.ms_user_id).collect();
    let shared_ms_users: Vec<Uuid> = diesel::sql_query(
        "SELECT DISTINCT ms_user_id AS v FROM user_mapping \
          WHERE ms_user_id = ANY($1) AND jira_instance_id <> $2",
    )
    .bind::<Array<SqlUuid>, _>(&ms_users)
    .bind::<SqlUuid, _>(instance.id)
    .load::<UuidRow>(conn)?
    .into_iter()
    .map(|r| r.v)
    .collect();
    let side_users: Vec<Uuid> = if for_erase {
        ms_users
            .iter()
            .filter(|u| !shared_ms_users.contains(u))
            .copied()
            .collect()
    } else {
        ms_users.clone()
    };
    let teams_of = |conn: &mut PgConnection, users: &[Uuid]| -> QueryResult<Vec<String>> {
        Ok(diesel::sql_query(
            "SELECT teams_user_id AS v FROM teams_user_setting \
              WHERE settings ->> 'aadObjectId' = ANY(CAST($1 AS text[])) \
             UNION SELECT teams_user_id FROM teams_sign_in WHERE aad_object_id = ANY($1)",
        )
        .bind::<Array<SqlUuid>, _>(users)
        .load::<TextRow>(conn)?
        .into_iter()
        .map(|r| r.v)
        .collect())
    };
    let teams_ids = teams_of(conn, &ms_users)?;
    let side_teams_ids = teams_of(conn, &side_users)?;
    let side_convs = diesel::sql_query(
        "SELECT settings ->> 'personalConversationId' AS v FROM teams_user_setting \
          WHERE teams_user_id = ANY($1) AND settings ? 'personalConversationId'",
    )
    .bind::<Array<Text>, _>(&side_teams_ids)
    .load::<TextRow>(conn)?
    .into_iter()
    .map(|r| r.v)
    .collect();
    Ok(Scope {
        instance,
        whole,
        keys,
        mappings: mappings.iter().map(|m| m.id).collect(),
        ms_users,
        teams_ids,
        side_teams_ids,
        side_convs,
        shared_ms_users,
    })
}

fn redact(row: &mut Value, spec: &TableSpec) {
    let Some(obj) = row.as_object_mut() else {
        return;
    };
    for (cols, marker) in [
        (spec.encrypted, "<encrypted, 1 value>"),
        (spec.hashed, "<hash>"),
        (spec.redacted, "<redacted>"),
    ] {
        for c in cols {
            if let Some(v) = obj.get_mut(*c)
                && !v.is_null()
            {
                *v = Value::String(marker.to_owned());
            }
        }
    }
}

/// Audit rows naming the subject: reads by them (API actor `<public_id>:<key>`) and reads of
/// their secrets. Append-only: kept on erase, removed by retention.
fn audit_rows(conn: &mut PgConnection, s: &Scope) -> QueryResult<Vec<Value>> {
    let actors: Vec<String> = s
        .keys
        .iter()
        .map(|k| format!("{}:{k}", s.instance.public_id))
        .collect();
    let rows: Vec<JsonRow> = diesel::sql_query(
        "SELECT to_jsonb(a) AS row FROM secret_access_audit a \
          WHERE (a.actor_kind = 'api' AND (a.actor = ANY($2) OR ($3 AND split_part(a.actor, ':', 1) = $4))) \
             OR a.secret_row = ANY(ARRAY(SELECT id FROM access_token WHERE user_mapping_id = ANY($1) OR ($3 AND jira_instance_id = $5))) \
             OR a.secret_row = ANY($1) OR ($3 AND a.secret_row = $5) \
          ORDER BY a.id",
    )
    .bind::<Array<SqlUuid>, _>(&s.mappings)
    .bind::<Array<Text>, _>(&actors)
    .bind::<Bool, _>(s.whole)
    .bind::<Text, _>(&s.instance.public_id)
    .bind::<SqlUuid, _>(s.instance.id)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.row).collect())
}

fn export_scope(conn: &mut PgConnection, subject: &Subject, s: &Scope) -> QueryResult<Value> {
    let mut tables = serde_json::Map::new();
    let mut notes = serde_json::Map::new();
    for spec in specs() {
        let sql = format!(
            "SELECT to_jsonb(t) AS row FROM {} t WHERE {} ORDER BY 1",
            spec.table, spec.filter
        );
        let rows: Vec<JsonRow> = bind(sql, s).load(conn)?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut v = r.row;
                redact(&mut v, &spec);
                v
            })
            .collect();
        tables.insert(spec.table.to_owned(), Value::Array(rows));
        if let Some(n) = spec.note {
            notes.insert(spec.table.to_owned(), Value::String(n.to_owned()));
        }
    }
    tables.insert(
        "secret_access_audit".into(),
        Value::Array(audit_rows(conn, s)?),
    );
    notes.insert(
        "secret_access_audit".into(),
        "append-only: kept on erase, removed after retention.audit_days".into(),
    );
    Ok(json!({
        "subject": match subject {
            Subject::User { public_id, jira_user_key } =>
                json!({ "kind": "user", "instance": public_id, "jiraUserKey": jira_user_key }),
            Subject::Instance { public_id } => json!({ "kind": "instance", "instance": public_id }),
        },
        "exportedAt": chrono::Utc::now().to_rfc3339(),
        "tables": tables,
        "notes": notes,
    }))
}

fn total_rows(export: &Value) -> usize {
    export["tables"]
        .as_object()
        .map(|t| {
            t.iter()
                .filter(|(k, _)| *k != "secret_access_audit")
                .map(|(_, v)| v.as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

fn not_found(subject: &Subject) -> LifecycleError {
    LifecycleError::NotFound(format!(
        "nothing is stored about {}; check the public ID and the Jira user key",
        subject.label()
    ))
}

/// Everything stored about the subject, as JSON, secrets redacted. A user about whom nothing is
/// stored is `NotFound`.
pub fn export(conn: &mut PgConnection, subject: &Subject) -> Result<Value, LifecycleError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            let scope = resolve(conn, subject, false)?;
            let out = export_scope(conn, subject, &scope)?;
            if total_rows(&out) == 0 {
                return Err(not_found(subject));
            }
            Ok(out)
        })
}

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
            report.audit_kept = audit_rows(conn, &s)?.len();
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

/// Of a pseudonymised table, the rows that are the user's own (deleted, not cleared).
fn own_rows(table: &str) -> &'static str {
    match table {
        "shared_chat_access" => IN_OWN_CHATS,
        _ => "false",
    }
}

/// Erases everything stored about the subject in one transaction and appends the tombstone
/// (who erased what, counts; no personal data beyond the identifier typed). `progress` is told
/// each table's count as it goes.
pub fn erase(
    conn: &mut PgConnection,
    subject: &Subject,
    actor: &Actor,
    purpose: &str,
    mut progress: impl FnMut(&str, usize),
) -> Result<EraseReport, LifecycleError> {
    conn.transaction(|conn| {
        let s = resolve(conn, subject, true)?;
        // one eraser at a time per instance, and no new link of this user half-way through
        diesel::sql_query("SELECT id FROM jira_instance WHERE id = $1 FOR UPDATE")
            .bind::<SqlUuid, _>(s.instance.id)
            .execute(conn)?;
        let mut report = EraseReport {
            audit_kept: audit_rows(conn, &s)?.len(),
            kept_shared_ms_users: s.shared_ms_users.len(),
            ..Default::default()
        };
        for spec in specs() {
            let pseudo = PSEUDONYMISED
                .iter()
                .find(|(t, _, _)| !s.whole && *t == spec.table);
            let n = match pseudo {
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

/// Rows per table of an export (for progress and tests).
pub fn counts(export: &Value) -> BTreeMap<String, usize> {
    export["tables"]
        .as_object()
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_array().map_or(0, Vec::len)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_public_id_colon_key() {
        assert_eq!(
            Subject::parse_user("tHXLY2:JIRAUSER10100").unwrap(),
            Subject::User {
                public_id: "tHXLY2".into(),
                jira_user_key: "JIRAUSER10100".into()
            }
        );
        // keys may contain colons; only the first one splits
        assert_eq!(
            Subject::parse_user("tHXLY2:a:b").unwrap().label(),
            "tHXLY2:a:b"
        );
        for bad in ["tHXLY2", ":key", "tHXLY2:", ""] {
            assert!(matches!(
                Subject::parse_user(bad),
                Err(LifecycleError::BadArgument(_))
            ));
        }
    }

    #[test]
    fn secrets_and_hashes_are_redacted_and_nulls_stay_null() {
        let spec = specs()
            .into_iter()
            .find(|s| s.table == "sign_in_flow")
            .unwrap();
        let mut row = json!({"ms_token": "\\xdeadbeef", "ms_refresh_token": null,
                             "start_hash": "\\x00", "nonce": "n", "stage": "jira"});
        redact(&mut row, &spec);
        assert_eq!(row["ms_token"], "<encrypted, 1 value>");
        assert!(row["ms_refresh_token"].is_null());
        assert_eq!(row["start_hash"], "<hash>");
        assert_eq!(row["nonce"], "<redacted>");
        assert_eq!(row["stage"], "jira");
    }
}
