//! A subject resolved to the ids its rows are found by (instance, Jira keys, mappings, Microsoft
//! and Teams ids), bound to a table's filter; and the audit rows that name the subject.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Array, Bool, Jsonb, Text, Uuid as SqlUuid};
use serde_json::Value;
use uuid::Uuid;

use super::super::jira_instance::JiraInstance;
use super::super::user_mapping::UserMapping;
use super::{LifecycleError, Subject};

/// The rows one export or erase covers, resolved before anything is read or deleted.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    pub(super) instance: JiraInstance,
    pub(super) whole: bool,
    pub(super) keys: Vec<String>,
    pub(super) mappings: Vec<Uuid>,
    pub(super) ms_users: Vec<Uuid>,
    /// every Teams id of these users (instance-scoped matches such as subscriptions)
    pub(super) teams_ids: Vec<String>,
    /// Teams ids whose instance-independent rows are in scope
    pub(super) side_teams_ids: Vec<String>,
    /// personal bot conversations whose rows are in scope
    pub(super) side_convs: Vec<String>,
    /// Microsoft users also linked in another instance (their Teams-side rows stay)
    pub(super) shared_ms_users: Vec<Uuid>,
    /// `outbox_names` of the users: `k:<jira key>`, `m:<Microsoft user id>`
    pub(super) outbox_names: Vec<String>,
    /// `outbox_names` of the side conversations: `c:<conversation id>`
    pub(super) conv_names: Vec<String>,
}

pub(super) fn bind<'a>(
    sql: String,
    s: &Scope,
) -> BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery> {
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
        .bind::<Array<Text>, _>(s.outbox_names.clone())
        .bind::<Array<Text>, _>(s.conv_names.clone())
}

#[derive(QueryableByName)]
pub(super) struct JsonRow {
    #[diesel(sql_type = Jsonb)]
    pub(super) row: Value,
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
pub(super) fn resolve(
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
    let side_convs: Vec<String> = diesel::sql_query(
        "SELECT settings ->> 'personalConversationId' AS v FROM teams_user_setting \
          WHERE teams_user_id = ANY($1) AND settings ? 'personalConversationId'",
    )
    .bind::<Array<Text>, _>(&side_teams_ids)
    .load::<TextRow>(conn)?
    .into_iter()
    .map(|r| r.v)
    .collect();
    let outbox_names = keys
        .iter()
        .map(|k| format!("k:{k}"))
        .chain(ms_users.iter().map(|u| format!("m:{u}")))
        .collect();
    let conv_names = side_convs.iter().map(|c| format!("c:{c}")).collect();
    Ok(Scope {
        instance,
        whole,
        outbox_names,
        conv_names,
        keys,
        mappings: mappings.iter().map(|m| m.id).collect(),
        ms_users,
        teams_ids,
        side_teams_ids,
        side_convs,
        shared_ms_users,
    })
}

/// The audit rows naming the subject: reads by them (API actor `<public_id>:<key>`; for an
/// instance any actor `<public_id>:…`, a range of the partial index
/// `secret_access_audit_api_actor_idx`) and reads of their secrets (`secret_access_audit_row_idx`).
/// Binds of [`audit_query`].
const AUDIT_FILTER: &str = "(a.actor_kind = 'api' AND (a.actor COLLATE \"C\" = ANY($2) \
       OR ($3 AND (a.actor COLLATE \"C\" = $4 \
                OR (a.actor COLLATE \"C\" >= ($4 || ':') AND a.actor COLLATE \"C\" < ($4 || ';')))))) \
    OR a.secret_row = ANY(ARRAY(SELECT id FROM access_token \
                                 WHERE user_mapping_id = ANY($1) OR ($3 AND jira_instance_id = $5))) \
    OR a.secret_row = ANY($1) OR ($3 AND a.secret_row = $5)";

/// `select` (naming the table `a`) over the audit rows naming the subject, then `tail`.
pub(super) fn audit_query<'a>(
    select: &str,
    tail: &str,
    s: &Scope,
) -> BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery> {
    let actors: Vec<String> = s
        .keys
        .iter()
        .map(|k| format!("{}:{k}", s.instance.public_id))
        .collect();
    diesel::sql_query(format!(
        "{select} FROM secret_access_audit a WHERE {AUDIT_FILTER} {tail}"
    ))
    .into_boxed()
    .bind::<Array<SqlUuid>, _>(s.mappings.clone())
    .bind::<Array<Text>, _>(actors)
    .bind::<Bool, _>(s.whole)
    .bind::<Text, _>(s.instance.public_id.clone())
    .bind::<SqlUuid, _>(s.instance.id)
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many audit rows name the subject, counted in the database (reads by them and of
/// their secrets; append-only: kept on erase, removed by retention).
pub(super) fn audit_count(conn: &mut PgConnection, s: &Scope) -> QueryResult<i64> {
    let c: Counted = audit_query("SELECT count(*) AS n", "", s).get_result(conn)?;
    Ok(c.n)
}
