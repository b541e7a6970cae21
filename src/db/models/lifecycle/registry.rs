//! The registry of tables: which tables hold a user's or an instance's rows, the filter that
//! finds them, the columns an export redacts, and which rows an erase clears instead of deleting.

use super::super::outbox_kind::BOT_WELCOME;

/// The row's chat is one of the instance's (checked per row the other condition found).
const IN_CHATS: &str =
    "EXISTS (SELECT 1 FROM issue_chat c WHERE c.id = issue_chat_id AND c.jira_instance_id = $1)";
/// The row's chat is one the user (or the instance) owns: the chats' ids first, then the rows
/// by the table's `issue_chat_id` index.
const IN_OWN_CHATS: &str = "issue_chat_id = ANY(ARRAY(SELECT id FROM issue_chat WHERE jira_instance_id = $1 AND ($8 OR created_by = ANY($2))))";

/// One table: its row filter (binds: $1 instance, $2 Jira keys, $3 Microsoft user ids,
/// $4 mapping ids, $5 Teams ids, $6 side Teams ids, $7 side conversations, $8 whole instance,
/// $9 the users' outbox names, $10 the side conversations' outbox names; see
/// `outbox_names` in the migration `lifecycle_indexes`), the column an export orders by, columns
/// to redact, and what erasing does to it. Every filter is answered by indexes (no sequential
/// scan of a large table for one user).
pub(super) struct TableSpec {
    pub(super) table: &'static str,
    pub(super) filter: String,
    /// the primary key (an export reads the rows in this order)
    pub(super) key: &'static str,
    pub(super) encrypted: &'static [&'static str],
    pub(super) hashed: &'static [&'static str],
    pub(super) redacted: &'static [&'static str],
    pub(super) note: Option<&'static str>,
}

/// Tables in erase order (children before parents).
pub(super) fn specs() -> Vec<TableSpec> {
    let t = |table, filter: &str| TableSpec {
        table,
        filter: filter.to_owned(),
        key: "id",
        encrypted: &[],
        hashed: &[],
        redacted: &[],
        note: None,
    };
    vec![
        TableSpec {
            note: Some(
                "queued deliveries naming the user (personal notifications, events about them, messages to their personal bot chat, the messages telling them and their channels that their sign-in lapsed), any status",
            ),
            ..t(
                "outbox",
                &format!(
                    "(jira_instance_id = $1 AND ($8 OR outbox_names(payload) && $9)) \
                     OR outbox_names(payload) && $10 \
                     OR (kind = '{BOT_WELCOME}' \
                         AND dedupe_key = ANY(ARRAY(SELECT 'welcome:' || s FROM unnest($6) s)))"
                ),
            )
        },
        TableSpec {
            note: Some(
                "instance-independent (keyed by Teams user id); erased only when no other instance links this Microsoft user",
            ),
            key: "dedupe_key",
            ..t("bot_action", "teams_user_id = ANY($6)")
        },
        TableSpec {
            note: Some(
                "instance-independent (matched by aadObjectId in settings); erased only when no other instance links this Microsoft user",
            ),
            key: "teams_user_id",
            ..t("teams_user_setting", "teams_user_id = ANY($6)")
        },
        TableSpec {
            note: Some(
                "instance-independent: only the user's personal bot installation (their 1:1 chat); erased only when no other instance links this Microsoft user",
            ),
            ..t("bot_membership", "conversation_id = ANY($7)")
        },
        TableSpec {
            note: Some(
                "the page under /jira/ a sign-in with Jira returns to; goes with its sign-in flow",
            ),
            key: "flow_id",
            ..t(
                "sign_in_return",
                "flow_id IN (SELECT id FROM sign_in_flow WHERE jira_instance_id = $1 \
                 AND ($8 OR jira_user_key = ANY($2) OR ms_user_id = ANY($3)))",
            )
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
        TableSpec {
            encrypted: &["access_token", "refresh_token"],
            hashed: &["token_hash"],
            note: Some(
                "the user's sessions signed in with Jira on the appliance's pages (metadata; token values are never exported); a user who never linked has only these",
            ),
            ..t(
                "jira_user_session",
                "jira_instance_id = $1 AND ($8 OR jira_user_key = ANY($2))",
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
        TableSpec {
            key: "issue_chat_id, ms_user_id",
            ..t(
                "issue_chat_member",
                &format!("{IN_OWN_CHATS} OR (ms_user_id = ANY($3) AND {IN_CHATS})"),
            )
        },
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
            key: "jira_instance_id",
            ..t("jira_instance_setup", "$8 AND jira_instance_id = $1")
        },
        TableSpec {
            hashed: &["token_hash"],
            key: "token_hash",
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
pub(super) const PSEUDONYMISED: &[(&str, &str, &str)] = &[
    ("shared_chat_access", "set_by", "'(erased user)'"),
    ("instance_setting", "updated_by", "NULL"),
];

/// Of a pseudonymised table, the rows that are the user's own (deleted, not cleared).
pub(super) fn own_rows(table: &str) -> &'static str {
    match table {
        "shared_chat_access" => IN_OWN_CHATS,
        _ => "false",
    }
}

/// The audit table is covered on its own: its rows naming the subject are exported, and kept on
/// erase (append-only; retention removes them).
pub(super) const AUDIT_TABLE: &str = "secret_access_audit";

/// Every table an export or erase covers: the registry's, in erase order, then the audit table.
pub fn covered_tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = specs().iter().map(|s| s.table).collect();
    tables.push(AUDIT_TABLE);
    tables
}

/// Tables that export and erase leave alone on purpose, each with the reason. A new table must
/// be either in [`specs`] or here (a test compares both with the database's own list).
pub const OUTSIDE_LIFECYCLE: &[(&str, &str)] = &[
    (
        "admin_user",
        "the appliance's own administrators, not Jira or Teams users",
    ),
    (
        "admin_session",
        "sessions of the appliance's administrators",
    ),
    (
        "login_attempt",
        "administrator sign-in throttling; rows age out with retention",
    ),
    ("setup_token", "the one-time first-run setup token"),
    (
        "microsoft_app",
        "the appliance's Microsoft app registration, shared by every instance",
    ),
    (
        "teams_app_package",
        "the generated Teams app package's id and version",
    ),
    (
        "activity_bucket",
        "hourly dashboard counts: numbers only, no user or instance named",
    ),
    (
        "posted_card",
        "Bot Connector ids of cards posted for comments (no personal data); an instance erase removes them by ON DELETE CASCADE, an export leaves them out",
    ),
];
