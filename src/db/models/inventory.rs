//! The data inventory: every stored entity of the seed as a live, paged table of display
//! strings. Secrets appear only shortened (shared secrets) or as "encrypted" (tokens). The
//! sessions of Jira users signed in on the appliance's pages are in `jira_sessions`.

mod jira_sessions;

use diesel::prelude::*;

use crate::db::schema::{
    access_token, bot_membership, instance_setting, issue_chat, jira_instance, jira_instance_setup,
    jsm_portal_app, secret_access_audit, shared_chat_access, teams_user_setting, user_mapping,
};

/// One entity of the inventory.
#[derive(Debug, Clone, Copy)]
pub struct Entity {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
}

/// The seed's entities, in the seed's order.
pub const ENTITIES: &[Entity] = &[
    Entity {
        key: "user_mapping",
        title: "User mapping",
        description: "Jira user linked to a Microsoft user.",
    },
    Entity {
        key: "issue_chat",
        title: "Jira issue / Teams chat",
        description: "Teams chats linked to Jira issues.",
    },
    Entity {
        key: "shared_chat_access",
        title: "Shared chat access",
        description: "Who may read a linked chat in Jira without being a member.",
    },
    Entity {
        key: "jira_instance",
        title: "Jira instances",
        description: "Registered Jira Data Center instances (secrets shortened).",
    },
    Entity {
        key: "bot_membership",
        title: "Teams bot membership",
        description: "Where the Teams app is installed.",
    },
    Entity {
        key: "instance_setting",
        title: "Instance settings",
        description: "Settings per Jira instance, such as appearance.",
    },
    Entity {
        key: "jsm_portal_app",
        title: "JSM portal settings",
        description: "JSM portal apps shown in Teams.",
    },
    Entity {
        key: "teams_user_setting",
        title: "Teams user settings",
        description: "Per Teams user flags, such as the welcome message.",
    },
    Entity {
        key: "access_token",
        title: "Access tokens",
        description: "User and app tokens, encrypted; never shown.",
    },
    Entity {
        key: "secret_access_audit",
        title: "Secret access audit",
        description: "One row per read of a secret.",
    },
    Entity {
        key: "jira_user_session",
        title: "Jira user sessions",
        description: "Jira users signed in on the appliance's pages (their tokens are encrypted and never shown).",
    },
    Entity {
        key: "sign_in_return",
        title: "Sign-ins with Jira in progress",
        description: "The page a sign-in with Jira returns to, until the sign-in completes or expires.",
    },
];

/// A page of one entity's rows as display strings.
#[derive(Debug, Clone)]
pub struct TablePage {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub total: i64,
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn key_version(blob: &[u8]) -> String {
    crate::crypto::vault::blob_version(blob)
        .map(|v| format!("encrypted (key v{v})"))
        .unwrap_or_else(|_| "encrypted (unreadable)".into())
}

/// Number of rows of an entity.
pub fn count(conn: &mut PgConnection, key: &str) -> QueryResult<Option<i64>> {
    let n = match key {
        "user_mapping" => user_mapping::table.count().get_result(conn)?,
        "issue_chat" => issue_chat::table.count().get_result(conn)?,
        "shared_chat_access" => shared_chat_access::table.count().get_result(conn)?,
        "jira_instance" => jira_instance::table.count().get_result(conn)?,
        "bot_membership" => bot_membership::table.count().get_result(conn)?,
        "instance_setting" => instance_setting::table.count().get_result(conn)?,
        "jsm_portal_app" => jsm_portal_app::table.count().get_result(conn)?,
        "teams_user_setting" => teams_user_setting::table.count().get_result(conn)?,
        "access_token" => access_token::table.count().get_result(conn)?,
        "secret_access_audit" => secret_access_audit::table.count().get_result(conn)?,
        k => return jira_sessions::count(conn, k),
    };
    Ok(Some(n))
}

/// A page of an entity, or `None` for an unknown entity key.
pub fn page(
    conn: &mut PgConnection,
    key: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Option<TablePage>> {
    let Some(total) = count(conn, key)? else {
        return Ok(None);
    };
    if jira_sessions::KEYS.contains(&key) {
        return jira_sessions::page(conn, key, offset, limit, total);
    }
    let (columns, rows): (Vec<&'static str>, Vec<Vec<String>>) = match key {
        "user_mapping" => (
            vec![
                "Jira instance",
                "Jira user",
                "Microsoft tenant",
                "Microsoft user",
                "Status",
                "Linked at",
            ],
            user_mapping::table
                .inner_join(jira_instance::table)
                .order((user_mapping::created_at.desc(), user_mapping::id))
                .offset(offset)
                .limit(limit)
                .select((
                    jira_instance::base_url,
                    user_mapping::jira_user_key,
                    user_mapping::ms_tenant_id,
                    user_mapping::ms_user_id,
                    user_mapping::status,
                    user_mapping::created_at,
                ))
                .load::<(
                    String,
                    String,
                    uuid::Uuid,
                    uuid::Uuid,
                    String,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e, f)| vec![a, b, c.to_string(), d.to_string(), e, ts(f)])
                .collect(),
        ),
        "issue_chat" => (
            vec![
                "Jira instance",
                "Jira issue",
                "Jira user",
                "Teams chat id",
                "Linked at",
            ],
            issue_chat::table
                .inner_join(jira_instance::table)
                .order((issue_chat::created_at.desc(), issue_chat::id))
                .offset(offset)
                .limit(limit)
                .select((
                    jira_instance::base_url,
                    issue_chat::issue_id,
                    issue_chat::created_by,
                    issue_chat::chat_id,
                    issue_chat::created_at,
                ))
                .load::<(String, i64, String, String, chrono::DateTime<chrono::Utc>)>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e)| vec![a, b.to_string(), c, d, ts(e)])
                .collect(),
        ),
        "shared_chat_access" => (
            vec!["Issue ID", "Chat ID", "Restrictions", "Set by", "Updated"],
            shared_chat_access::table
                .inner_join(issue_chat::table)
                .order((
                    shared_chat_access::updated_at.desc(),
                    shared_chat_access::id,
                ))
                .offset(offset)
                .limit(limit)
                .select((
                    issue_chat::issue_id,
                    issue_chat::chat_id,
                    shared_chat_access::restrictions,
                    shared_chat_access::set_by,
                    shared_chat_access::updated_at,
                ))
                .load::<(
                    i64,
                    String,
                    serde_json::Value,
                    String,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e)| vec![a.to_string(), b, c.to_string(), d, ts(e)])
                .collect(),
        ),
        "jira_instance" => (
            vec![
                "Jira URL",
                "Shared secret (shortened)",
                "Public ID",
                "Enabled",
                "Registered",
                "OAuth link tested",
                "Last webhook event",
            ],
            jira_instance::table
                .left_join(jira_instance_setup::table)
                .order((jira_instance::created_at.asc(), jira_instance::id))
                .offset(offset)
                .limit(limit)
                .select((
                    jira_instance::base_url,
                    jira_instance::shared_secret_hint,
                    jira_instance::public_id,
                    jira_instance::enabled,
                    jira_instance::created_at,
                    jira_instance_setup::oauth_tested_at.nullable(),
                    jira_instance_setup::last_event_at.nullable(),
                ))
                .load::<(
                    String,
                    String,
                    String,
                    bool,
                    chrono::DateTime<chrono::Utc>,
                    Option<chrono::DateTime<chrono::Utc>>,
                    Option<chrono::DateTime<chrono::Utc>>,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e, f, g)| {
                    vec![
                        a,
                        format!("{b}…"),
                        c,
                        if d { "yes".into() } else { "no".into() },
                        ts(e),
                        f.map(ts).unwrap_or_else(|| "–".into()),
                        g.map(ts).unwrap_or_else(|| "–".into()),
                    ]
                })
                .collect(),
        ),
        "bot_membership" => (
            vec![
                "Conversation ID",
                "Team",
                "Service URL",
                "Status",
                "Scope",
                "Tenant",
                "Updated",
            ],
            bot_membership::table
                .order((bot_membership::updated_at.desc(), bot_membership::id))
                .offset(offset)
                .limit(limit)
                .select((
                    bot_membership::conversation_id,
                    (bot_membership::team_name, bot_membership::team_id),
                    bot_membership::service_url,
                    bot_membership::status,
                    bot_membership::scope,
                    bot_membership::tenant_id,
                    bot_membership::updated_at,
                ))
                .load::<(
                    String,
                    (Option<String>, Option<String>),
                    String,
                    String,
                    String,
                    uuid::Uuid,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(a, team, b, c, d, e, f)| {
                    let team = match team {
                        (Some(name), Some(id)) => format!("{name} ({id})"),
                        (None, Some(id)) => id,
                        (_, None) => String::new(),
                    };
                    vec![a, team, b, c, d, e.to_string(), ts(f)]
                })
                .collect(),
        ),
        "instance_setting" => (
            vec![
                "Jira instance",
                "Setting name",
                "Setting value",
                "Updated by",
                "Updated",
            ],
            instance_setting::table
                .inner_join(jira_instance::table)
                .order((jira_instance::base_url.asc(), instance_setting::name.asc()))
                .offset(offset)
                .limit(limit)
                .select((
                    jira_instance::base_url,
                    instance_setting::name,
                    instance_setting::value,
                    instance_setting::updated_by,
                    instance_setting::updated_at,
                ))
                .load::<(
                    String,
                    String,
                    serde_json::Value,
                    Option<String>,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e)| vec![a, b, c.to_string(), d.unwrap_or_default(), ts(e)])
                .collect(),
        ),
        "jsm_portal_app" => (
            vec!["Portal app ID", "Jira instance", "Settings", "Updated"],
            jsm_portal_app::table
                .inner_join(jira_instance::table)
                .order((jsm_portal_app::updated_at.desc(), jsm_portal_app::id))
                .offset(offset)
                .limit(limit)
                .select((
                    jsm_portal_app::id,
                    jira_instance::base_url,
                    jsm_portal_app::settings,
                    jsm_portal_app::updated_at,
                ))
                .load::<(
                    uuid::Uuid,
                    String,
                    serde_json::Value,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d)| vec![a.to_string(), b, c.to_string(), ts(d)])
                .collect(),
        ),
        "teams_user_setting" => (
            vec!["Teams user ID", "Settings", "Updated"],
            teams_user_setting::table
                .order((
                    teams_user_setting::updated_at.desc(),
                    teams_user_setting::teams_user_id,
                ))
                .offset(offset)
                .limit(limit)
                .select((
                    teams_user_setting::teams_user_id,
                    teams_user_setting::settings,
                    teams_user_setting::updated_at,
                ))
                .load::<(String, serde_json::Value, chrono::DateTime<chrono::Utc>)>(conn)?
                .into_iter()
                .map(|(a, b, c)| vec![a, b.to_string(), ts(c)])
                .collect(),
        ),
        "access_token" => (
            vec![
                "Kind",
                "Owner",
                "Scopes",
                "Access token",
                "Refresh token",
                "Expires",
                "Updated",
            ],
            access_token::table
                .order((access_token::updated_at.desc(), access_token::id))
                .offset(offset)
                .limit(limit)
                .select((
                    access_token::kind,
                    access_token::user_mapping_id,
                    access_token::ms_tenant_id,
                    access_token::scopes,
                    access_token::token,
                    access_token::refresh_token,
                    access_token::expires_at,
                    access_token::updated_at,
                ))
                .load::<(
                    String,
                    Option<uuid::Uuid>,
                    Option<uuid::Uuid>,
                    String,
                    Vec<u8>,
                    Option<Vec<u8>>,
                    Option<chrono::DateTime<chrono::Utc>>,
                    chrono::DateTime<chrono::Utc>,
                )>(conn)?
                .into_iter()
                .map(|(kind, mapping, tenant, scopes, at, rt, exp, upd)| {
                    let owner = match (mapping, tenant) {
                        (Some(m), _) => format!("user mapping {m}"),
                        (None, Some(t)) => format!("tenant {t}"),
                        (None, None) => String::new(),
                    };
                    vec![
                        kind,
                        owner,
                        scopes,
                        key_version(&at),
                        rt.map(|r| key_version(&r)).unwrap_or_else(|| "—".into()),
                        exp.map(ts).unwrap_or_default(),
                        ts(upd),
                    ]
                })
                .collect(),
        ),
        "secret_access_audit" => (
            vec!["When", "Actor", "Secret", "Purpose", "Outcome"],
            secret_access_audit::table
                .order(secret_access_audit::id.desc())
                .offset(offset)
                .limit(limit)
                .select((
                    secret_access_audit::at,
                    secret_access_audit::actor_kind,
                    secret_access_audit::actor,
                    secret_access_audit::secret_kind,
                    secret_access_audit::secret_label,
                    secret_access_audit::purpose,
                    secret_access_audit::outcome,
                ))
                .load::<(
                    chrono::DateTime<chrono::Utc>,
                    String,
                    String,
                    String,
                    String,
                    String,
                    String,
                )>(conn)?
                .into_iter()
                .map(|(a, b, c, d, e, f, g)| {
                    vec![ts(a), format!("{b}: {c}"), format!("{d} {e}"), f, g]
                })
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
