//! Per Teams user settings (`{"botWelcomeSent": true}`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::outbox_kind::BOT_WELCOME;
use crate::db::schema::teams_user_setting;

/// Settings of one Teams user.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = teams_user_setting)]
pub struct TeamsUserSetting {
    pub teams_user_id: String,
    pub settings: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl TeamsUserSetting {
    /// The settings of a Teams user, if any were stored.
    pub fn find(
        conn: &mut PgConnection,
        teams_user_id: &str,
    ) -> QueryResult<Option<TeamsUserSetting>> {
        teams_user_setting::table
            .find(teams_user_id)
            .select(TeamsUserSetting::as_select())
            .first(conn)
            .optional()
    }

    /// Marks the welcome message as due for a Teams user and queues it, once ever: the setting
    /// flips under the row lock and the outbox item is written in the same transaction, so two
    /// concurrent installation events queue one welcome. Returns whether this call queued it.
    pub fn queue_welcome_once(
        conn: &mut PgConnection,
        teams_user_id: &str,
        payload: &serde_json::Value,
    ) -> QueryResult<bool> {
        conn.transaction(|conn| {
            #[derive(QueryableByName)]
            struct Flipped {
                #[diesel(sql_type = diesel::sql_types::Text)]
                #[expect(dead_code, reason = "only the row's presence matters")]
                teams_user_id: String,
            }
            let flipped: Option<Flipped> = diesel::sql_query(
                "INSERT INTO teams_user_setting (teams_user_id, settings)                  VALUES ($1, '{\"botWelcomeSent\": true}'::jsonb)                  ON CONFLICT (teams_user_id) DO UPDATE                    SET settings = teams_user_setting.settings || '{\"botWelcomeSent\": true}'::jsonb,                        updated_at = now()                    WHERE (teams_user_setting.settings ->> 'botWelcomeSent') IS DISTINCT FROM 'true'                  RETURNING teams_user_id",
            )
            .bind::<diesel::sql_types::Text, _>(teams_user_id)
            .get_result(conn)
            .optional()?;
            if flipped.is_none() {
                return Ok(false);
            }
            super::outbox::OutboxItem::enqueue(
                conn,
                BOT_WELCOME,
                None,
                &format!("welcome:{teams_user_id}"),
                payload,
            )
        })
    }
}

/// The kinds of personal notification a user can turn off (`notifications` command).
pub const NOTIFICATION_KINDS: [&str; 4] = ["assignee", "reporter", "watcher", "mention"];

impl TeamsUserSetting {
    /// Merges `patch` into a Teams user's settings (creating them), returning the result.
    pub fn merge(
        conn: &mut PgConnection,
        teams_user_id: &str,
        patch: &serde_json::Value,
    ) -> QueryResult<TeamsUserSetting> {
        diesel::sql_query(
            "INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ($1, $2) \
             ON CONFLICT (teams_user_id) DO UPDATE \
               SET settings = teams_user_setting.settings || EXCLUDED.settings, updated_at = now() \
             RETURNING teams_user_id, settings, updated_at",
        )
        .bind::<diesel::sql_types::Text, _>(teams_user_id)
        .bind::<diesel::sql_types::Jsonb, _>(patch)
        .get_result(conn)
    }

    /// Remembers who a Teams user is and where their 1:1 chat with the bot is (from a personal
    /// installation), so personal notifications can reach them.
    pub fn remember_personal_chat(
        conn: &mut PgConnection,
        teams_user_id: &str,
        tenant: uuid::Uuid,
        aad_object_id: uuid::Uuid,
        conversation_id: &str,
        service_url: &str,
    ) -> QueryResult<TeamsUserSetting> {
        Self::merge(
            conn,
            teams_user_id,
            &serde_json::json!({
                "tenantId": tenant,
                "aadObjectId": aad_object_id,
                "personalConversationId": conversation_id,
                "serviceUrl": service_url,
            }),
        )
    }

    /// The settings of the Teams user with this Entra object id in this tenant, if known.
    pub fn by_aad_object(
        conn: &mut PgConnection,
        tenant: uuid::Uuid,
        aad_object_id: uuid::Uuid,
    ) -> QueryResult<Option<TeamsUserSetting>> {
        diesel::sql_query(
            "SELECT teams_user_id, settings, updated_at FROM teams_user_setting \
              WHERE settings ->> 'aadObjectId' = $1 AND settings ->> 'tenantId' = $2 \
              ORDER BY updated_at DESC LIMIT 1",
        )
        .bind::<diesel::sql_types::Text, _>(aad_object_id.to_string())
        .bind::<diesel::sql_types::Text, _>(tenant.to_string())
        .get_result(conn)
        .optional()
    }

    /// Whether personal notifications of `kind` are on (they are unless turned off).
    pub fn notification_on(&self, kind: &str) -> bool {
        self.settings["notifications"][kind].as_bool() != Some(false)
    }

    /// The 1:1 conversation with the bot and its service URL, when a personal install told it.
    pub fn personal_chat(&self) -> Option<(&str, &str)> {
        Some((
            self.settings["personalConversationId"].as_str()?,
            self.settings["serviceUrl"].as_str()?,
        ))
    }
}
