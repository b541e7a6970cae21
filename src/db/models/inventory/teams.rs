//! The inventory's Teams side and tokens: where the bot is installed, per Teams user settings,
//! and the stored tokens (encrypted; only their key version is shown). Most recently changed
//! first, each on an index of `(updated_at, key)`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::{Paged, TablePage, key_version, table, ts, with};
use crate::db::keyset::{self, Window, seek_by};
use crate::db::schema::{access_token, bot_membership, teams_user_setting};

type Key = (DateTime<Utc>, Uuid);

pub(super) fn page(
    conn: &mut PgConnection,
    key: &str,
    window: &Window<String>,
    limit: i64,
) -> QueryResult<Option<Paged>> {
    match key {
        "bot_membership" => with(window, |w: &Window<Key>| memberships(conn, w, limit)),
        "teams_user_setting" => with(window, |w| user_settings(conn, w, limit)),
        "access_token" => with(window, |w: &Window<Key>| tokens(conn, w, limit)),
        _ => Ok(None),
    }
}

type MembershipCells = (
    DateTime<Utc>,
    Uuid,
    String,
    (Option<String>, Option<String>),
    String,
    String,
    String,
    Uuid,
);

fn memberships(
    conn: &mut PgConnection,
    window: &Window<Key>,
    limit: i64,
) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            bot_membership::table.into_boxed(),
            s,
            desc = true,
            bot_membership::updated_at,
            bot_membership::id
        )
        .select((
            bot_membership::updated_at,
            bot_membership::id,
            bot_membership::conversation_id,
            (bot_membership::team_name, bot_membership::team_id),
            bot_membership::service_url,
            bot_membership::status,
            bot_membership::scope,
            bot_membership::tenant_id,
        ))
        .load::<MembershipCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, a, team, b, c, d, e)| {
                    let team = match team {
                        (Some(name), Some(id)) => format!("{name} ({id})"),
                        (None, Some(id)) => id,
                        (_, None) => String::new(),
                    };
                    ((at, id), vec![a, team, b, c, d, e.to_string(), ts(at)])
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Conversation ID",
            "Team",
            "Service URL",
            "Status",
            "Scope",
            "Tenant",
            "Updated",
        ],
        page,
    ))
}

fn user_settings(
    conn: &mut PgConnection,
    window: &Window<(DateTime<Utc>, String)>,
    limit: i64,
) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            teams_user_setting::table.into_boxed(),
            s,
            desc = true,
            teams_user_setting::updated_at,
            teams_user_setting::teams_user_id
        )
        .select((
            teams_user_setting::updated_at,
            teams_user_setting::teams_user_id,
            teams_user_setting::settings,
        ))
        .load::<(DateTime<Utc>, String, serde_json::Value)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(at, id, b)| ((at, id.clone()), vec![id, b.to_string(), ts(at)]))
                .collect()
        })
    })?;
    Ok(table(vec!["Teams user ID", "Settings", "Updated"], page))
}

type TokenCells = (
    DateTime<Utc>,
    Uuid,
    String,
    Option<Uuid>,
    Option<Uuid>,
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
);

fn tokens(conn: &mut PgConnection, window: &Window<Key>, limit: i64) -> QueryResult<TablePage> {
    let page = keyset::read(window, limit, |s| {
        seek_by!(
            access_token::table.into_boxed(),
            s,
            desc = true,
            access_token::updated_at,
            access_token::id
        )
        .select((
            access_token::updated_at,
            access_token::id,
            access_token::kind,
            access_token::user_mapping_id,
            access_token::ms_tenant_id,
            access_token::scopes,
            access_token::token,
            access_token::refresh_token,
            access_token::expires_at,
        ))
        .load::<TokenCells>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(upd, id, kind, mapping, tenant, scopes, at, rt, exp)| {
                    let owner = match (mapping, tenant) {
                        (Some(m), _) => format!("user mapping {m}"),
                        (None, Some(t)) => format!("tenant {t}"),
                        (None, None) => String::new(),
                    };
                    (
                        (upd, id),
                        vec![
                            kind,
                            owner,
                            scopes,
                            key_version(&at),
                            rt.map(|r| key_version(&r)).unwrap_or_else(|| "—".into()),
                            exp.map(ts).unwrap_or_default(),
                            ts(upd),
                        ],
                    )
                })
                .collect()
        })
    })?;
    Ok(table(
        vec![
            "Kind",
            "Owner",
            "Scopes",
            "Access token",
            "Refresh token",
            "Expires",
            "Updated",
        ],
        page,
    ))
}
