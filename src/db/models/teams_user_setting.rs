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
}
