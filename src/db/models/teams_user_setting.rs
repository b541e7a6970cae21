//! Per Teams user settings (`{"botWelcomeSent": true}`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::teams_user_setting;

/// Settings of one Teams user.
#[derive(Debug, Clone, Queryable, Selectable)]
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

/// The outbox kind of welcome messages.
pub const BOT_WELCOME: &str = "bot_welcome";
