//! The data inventory: every stored entity of the seed as a live table of display strings,
//! keyset paged on an indexed order (`db::keyset`), its size an estimate or a capped count.
//! Secrets appear only shortened (shared secrets) or as "encrypted" (tokens). One file per
//! group of entities: `mappings` (links), `instances` (Jira side), `teams` (Teams side and
//! tokens), `jira_sessions` (Jira users signed in on the appliance's pages); the audit log is
//! read here.

mod instances;
mod jira_sessions;
mod mappings;
mod teams;

use diesel::prelude::*;

use crate::db::keyset::{self, BadCursor, CursorKey, Page, RowCount, Window};
use crate::db::schema::secret_access_audit;

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

/// One row of an entity: its cursor (for the page links) and its cells.
#[derive(Debug, Clone)]
pub struct Row {
    pub cursor: String,
    pub cells: Vec<String>,
}

/// A page of one entity's rows as display strings.
#[derive(Debug, Clone)]
pub struct TablePage {
    pub columns: Vec<&'static str>,
    pub page: Page<Row>,
}

/// What reading a page answers: the page, or a cursor that is not one of this entity's.
pub type Paged = Result<TablePage, BadCursor>;

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn key_version(blob: &[u8]) -> String {
    crate::crypto::vault::blob_version(blob)
        .map(|v| format!("encrypted (key v{v})"))
        .unwrap_or_else(|_| "encrypted (unreadable)".into())
}

/// The page of an entity whose rows carry their sort key `K`.
fn table<K: CursorKey>(columns: Vec<&'static str>, page: Page<(K, Vec<String>)>) -> TablePage {
    TablePage {
        columns,
        page: Page {
            rows: page
                .rows
                .into_iter()
                .map(|(k, cells)| Row {
                    cursor: k.encode_cursor(),
                    cells,
                })
                .collect(),
            has_prev: page.has_prev,
            has_next: page.has_next,
        },
    }
}

/// Reads a page with the window's cursor decoded as the entity's key `K`.
fn with<K: CursorKey>(
    window: &Window<String>,
    read: impl FnOnce(&Window<K>) -> QueryResult<TablePage>,
) -> QueryResult<Option<Paged>> {
    match window.decode::<K>() {
        Ok(w) => read(&w).map(|p| Some(Ok(p))),
        Err(BadCursor) => Ok(Some(Err(BadCursor))),
    }
}

/// Number of rows of an entity (every entity key is its table's name): the planner's estimate
/// for a big table, a capped count otherwise. `None` for an unknown key.
pub fn count(conn: &mut PgConnection, key: &str) -> QueryResult<Option<RowCount>> {
    match ENTITIES.iter().find(|e| e.key == key) {
        Some(e) => keyset::table_size(conn, e.key).map(Some),
        None => Ok(None),
    }
}

/// The page `window` of `limit` rows of an entity, or `None` for an unknown entity key.
pub fn page(
    conn: &mut PgConnection,
    key: &str,
    window: &Window<String>,
    limit: i64,
) -> QueryResult<Option<Paged>> {
    if let Some(p) = mappings::page(conn, key, window, limit)? {
        return Ok(Some(p));
    }
    if let Some(p) = instances::page(conn, key, window, limit)? {
        return Ok(Some(p));
    }
    if let Some(p) = teams::page(conn, key, window, limit)? {
        return Ok(Some(p));
    }
    if let Some(p) = jira_sessions::page(conn, key, window, limit)? {
        return Ok(Some(p));
    }
    if key == "secret_access_audit" {
        return audit_page(conn, window, limit).map(Some);
    }
    Ok(None)
}

type AuditCells = (
    i64,
    chrono::DateTime<chrono::Utc>,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// The audit log, newest first, on its primary key.
fn audit_page(conn: &mut PgConnection, window: &Window<String>, limit: i64) -> QueryResult<Paged> {
    let Ok(window) = window.decode::<i64>() else {
        return Ok(Err(BadCursor));
    };
    let page = keyset::read(&window, limit, |s| {
        let mut q = secret_access_audit::table.into_boxed();
        if let Some(k) = s.from {
            q = if s.descending(true) {
                q.filter(secret_access_audit::id.lt(*k))
            } else {
                q.filter(secret_access_audit::id.gt(*k))
            };
        }
        q = if s.descending(true) {
            q.order(secret_access_audit::id.desc())
        } else {
            q.order(secret_access_audit::id.asc())
        };
        q.limit(s.limit)
            .select((
                secret_access_audit::id,
                secret_access_audit::at,
                secret_access_audit::actor_kind,
                secret_access_audit::actor,
                secret_access_audit::secret_kind,
                secret_access_audit::secret_label,
                secret_access_audit::purpose,
                secret_access_audit::outcome,
            ))
            .load::<AuditCells>(conn)
            .map(|rows| {
                rows.into_iter()
                    .map(|(id, a, b, c, d, e, f, g)| {
                        (
                            id,
                            vec![ts(a), format!("{b}: {c}"), format!("{d} {e}"), f, g],
                        )
                    })
                    .collect()
            })
    })?;
    Ok(Ok(table(
        vec!["When", "Actor", "Secret", "Purpose", "Outcome"],
        page,
    )))
}
