//! The inventory's view of Jira users signed in on the appliance's pages: their sessions and
//! the sign-ins with Jira in progress. Metadata only: a session's tokens (and the hash of its
//! cookie) are never read here.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use super::{TablePage, ts};
use crate::db::schema::{jira_user_session, sign_in_return};

/// The entity keys this module answers.
pub(super) const KEYS: [&str; 2] = ["jira_user_session", "sign_in_return"];

pub(super) fn count(conn: &mut PgConnection, key: &str) -> QueryResult<Option<i64>> {
    Ok(Some(match key {
        "jira_user_session" => jira_user_session::table.count().get_result(conn)?,
        "sign_in_return" => sign_in_return::table.count().get_result(conn)?,
        _ => return Ok(None),
    }))
}

#[derive(QueryableByName)]
struct SessionRow {
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
    offset: i64,
    limit: i64,
    total: i64,
) -> QueryResult<Option<TablePage>> {
    let (columns, rows) = match key {
        "jira_user_session" => (
            vec![
                "Jira instance",
                "Jira user",
                "Name",
                "Signed in",
                "Last seen",
                "Ends",
            ],
            // the token columns are not even selected
            diesel::sql_query(
                "SELECT i.base_url, s.jira_user_key, s.jira_user_name, s.created_at, \
                        s.last_seen_at, s.expires_at \
                   FROM jira_user_session s JOIN jira_instance i ON i.id = s.jira_instance_id \
                  ORDER BY s.created_at DESC, s.id OFFSET $1 LIMIT $2",
            )
            .bind::<BigInt, _>(offset)
            .bind::<BigInt, _>(limit)
            .load::<SessionRow>(conn)?
            .into_iter()
            .map(|r| {
                vec![
                    r.base_url,
                    r.jira_user_key,
                    r.jira_user_name,
                    ts(r.created_at),
                    ts(r.last_seen_at),
                    ts(r.expires_at),
                ]
            })
            .collect(),
        ),
        "sign_in_return" => (
            vec!["Jira instance", "Returns to", "Stage", "Expires"],
            diesel::sql_query(
                "SELECT i.base_url, r.next_path, f.stage, f.expires_at \
                   FROM sign_in_return r JOIN sign_in_flow f ON f.id = r.flow_id \
                   JOIN jira_instance i ON i.id = f.jira_instance_id \
                  ORDER BY f.expires_at DESC, r.flow_id OFFSET $1 LIMIT $2",
            )
            .bind::<BigInt, _>(offset)
            .bind::<BigInt, _>(limit)
            .load::<ReturnRow>(conn)?
            .into_iter()
            .map(|r| vec![r.base_url, r.next_path, r.stage, ts(r.expires_at)])
            .collect(),
        ),
        _ => return Ok(None),
    };
    Ok(Some(TablePage {
        columns,
        rows,
        total,
    }))
}
