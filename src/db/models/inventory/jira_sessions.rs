//! The inventory's view of Jira users signed in on the appliance's pages: their sessions and
//! the sign-ins with Jira in progress. Metadata only: a session's tokens (and the hash of its
//! cookie) are never read here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use uuid::Uuid;

use super::{Paged, TablePage, table, ts, with};
use crate::db::keyset::{self, Seek, Window};

type Key = (DateTime<Utc>, Uuid);

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    base_url: String,
    #[diesel(sql_type = Text)]
    jira_user_key: String,
    #[diesel(sql_type = Text)]
    jira_user_name: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Timestamptz)]
    last_seen_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(QueryableByName)]
struct ReturnRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    flow_id: Uuid,
    #[diesel(sql_type = Text)]
    base_url: String,
    #[diesel(sql_type = Text)]
    next_path: String,
    #[diesel(sql_type = Text)]
    stage: String,
    #[diesel(sql_type = Timestamptz)]
    expires_at: chrono::DateTime<chrono::Utc>,
}

pub(super) fn page(
    conn: &mut PgConnection,
    key: &str,
    window: &Window<String>,
    limit: i64,
) -> QueryResult<Option<Paged>> {
    match key {
        "jira_user_session" => with(window, |w: &Window<Key>| sessions(conn, w, limit)),
        "sign_in_return" => with(window, |w: &Window<Key>| returns(conn, w, limit)),
        _ => Ok(None),
    }
}

/// `select … from_where [AND (ts, id) past the key] ORDER BY ts, id LIMIT n` for a list shown
/// newest first on an index of `(ts, id)`.
fn seek_sql<'a>(
    s: &Seek<'_, Key>,
    select_from_where: &str,
    (ts_col, id_col): (&str, &str),
) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    let dir = if s.descending(true) { "DESC" } else { "ASC" };
    let bound = match s.from {
        Some(_) => format!("AND ({ts_col}, {id_col}) {} ($1, $2)", s.op(true)),
        None => String::new(),
    };
    let limit = if s.from.is_some() { "$3" } else { "$1" };
    let q = diesel::sql_query(format!(
        "{select_from_where} {bound} ORDER BY {ts_col} {dir}, {id_col} {dir} LIMIT {limit}"
    ))
    .into_boxed();
    match s.from {
        Some((t, id)) => q
            .bind::<Timestamptz, _>(*t)
            .bind::<diesel::sql_types::Uuid, _>(*id)
            .bind::<BigInt, _>(s.limit),
        None => q.bind::<BigInt, _>(s.limit),
    }
}

fn sessions(conn: &mut PgConnection, window: &Window<Key>, limit: i64) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        // the token columns are not even selected
        seek_sql(
            &s,
            "SELECT s.id, i.base_url, s.jira_user_key, s.jira_user_name, s.created_at, \
                    s.last_seen_at, s.expires_at \
               FROM jira_user_session s JOIN jira_instance i ON i.id = s.jira_instance_id \
              WHERE true",
            ("s.created_at", "s.id"),
        )
        .load::<SessionRow>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|r| {
                    (
                        (r.created_at, r.id),
                        vec![
                            r.base_url,
                            r.jira_user_key,
                            r.jira_user_name,
                            ts(r.created_at),
                            ts(r.last_seen_at),
                            ts(r.expires_at),
                        ],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Jira instance",
            "Jira user",
            "Name",
            "Signed in",
            "Last seen",
            "Ends",
        ],
        page,
    ))
}

fn returns(conn: &mut PgConnection, window: &Window<Key>, limit: i64) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_sql(
            &s,
            "SELECT r.flow_id, i.base_url, r.next_path, f.stage, f.expires_at \
               FROM sign_in_return r JOIN sign_in_flow f ON f.id = r.flow_id \
               JOIN jira_instance i ON i.id = f.jira_instance_id \
              WHERE true",
            ("f.expires_at", "f.id"),
        )
        .load::<ReturnRow>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|r| {
                    (
                        (r.expires_at, r.flow_id),
                        vec![r.base_url, r.next_path, r.stage, ts(r.expires_at)],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec!["Jira instance", "Returns to", "Stage", "Expires"],
        page,
    ))
}
