//! The inventory's links: Jira users to Microsoft users, issues to chats, and who may read a
//! linked chat without being a member. Newest first, each on an index of its sort key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::{Paged, table, ts, with};
use crate::db::keyset::{self, Window, seek_by};
use crate::db::schema::{issue_chat, jira_instance, shared_chat_access, user_mapping};

type Key = (DateTime<Utc>, Uuid);

pub(super) fn page(
    conn: &mut PgConnection,
    key: &str,
    window: &Window<String>,
    limit: i64,
) -> QueryResult<Option<Paged>> {
    match key {
        "user_mapping" => with(window, |w: &Window<Key>| user_mappings(conn, w, limit)),
        "issue_chat" => with(window, |w: &Window<Key>| issue_chats(conn, w, limit)),
        "shared_chat_access" => with(window, |w: &Window<Key>| shared_chats(conn, w, limit)),
        _ => Ok(None),
    }
}

type MappingCells = (DateTime<Utc>, Uuid, String, String, Uuid, Uuid, String);

fn user_mappings(
    conn: &mut PgConnection,
    window: &Window<Key>,
    limit: i64,
) -> QueryResult<super::TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            user_mapping::table
                .inner_join(jira_instance::table)
                .into_boxed(),
            s,
            desc = true,
            user_mapping::created_at,
            user_mapping::id
        )
        .select((
            user_mapping::created_at,
            user_mapping::id,
            jira_instance::base_url,
            user_mapping::jira_user_key,
            user_mapping::ms_tenant_id,
            user_mapping::ms_user_id,
            user_mapping::status,
        ))
        .load::<MappingCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, a, b, c, d, e)| {
                    (
                        (at, id),
                        vec![a, b, c.to_string(), d.to_string(), e, ts(at)],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Jira instance",
            "Jira user",
            "Microsoft tenant",
            "Microsoft user",
            "Status",
            "Linked at",
        ],
        page,
    ))
}

fn issue_chats(
    conn: &mut PgConnection,
    window: &Window<Key>,
    limit: i64,
) -> QueryResult<super::TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            issue_chat::table
                .inner_join(jira_instance::table)
                .into_boxed(),
            s,
            desc = true,
            issue_chat::created_at,
            issue_chat::id
        )
        .select((
            issue_chat::created_at,
            issue_chat::id,
            jira_instance::base_url,
            issue_chat::issue_id,
            issue_chat::created_by,
            issue_chat::chat_id,
        ))
        .load::<(DateTime<Utc>, Uuid, String, i64, String, String)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, a, b, c, d)| ((at, id), vec![a, b.to_string(), c, d, ts(at)]))
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Jira instance",
            "Jira issue",
            "Jira user",
            "Teams chat id",
            "Linked at",
        ],
        page,
    ))
}

type SharedCells = (DateTime<Utc>, Uuid, i64, String, serde_json::Value, String);

fn shared_chats(
    conn: &mut PgConnection,
    window: &Window<Key>,
    limit: i64,
) -> QueryResult<super::TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            shared_chat_access::table
                .inner_join(issue_chat::table)
                .into_boxed(),
            s,
            desc = true,
            shared_chat_access::updated_at,
            shared_chat_access::id
        )
        .select((
            shared_chat_access::updated_at,
            shared_chat_access::id,
            issue_chat::issue_id,
            issue_chat::chat_id,
            shared_chat_access::restrictions,
            shared_chat_access::set_by,
        ))
        .load::<SharedCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, a, b, c, d)| {
                    ((at, id), vec![a.to_string(), b, c.to_string(), d, ts(at)])
                })
                .collect()
        })
    })?;
    Ok(table(
        vec!["Issue ID", "Chat ID", "Restrictions", "Set by", "Updated"],
        page,
    ))
}
