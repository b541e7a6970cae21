//! Jira user ↔ Microsoft user links.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::user_mapping;

/// A link between a Jira user of one instance and a Microsoft user.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_mapping)]
pub struct UserMapping {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub jira_user_key: String,
    pub ms_tenant_id: Uuid,
    pub ms_user_id: Uuid,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserMapping {
    /// The link of a Jira user, if any.
    pub fn find(
        conn: &mut PgConnection,
        instance: Uuid,
        jira_user_key: &str,
    ) -> QueryResult<Option<UserMapping>> {
        user_mapping::table
            .filter(user_mapping::jira_instance_id.eq(instance))
            .filter(user_mapping::jira_user_key.eq(jira_user_key))
            .select(UserMapping::as_select())
            .first(conn)
            .optional()
    }

    /// Removes the link; the user's tokens go with it (ON DELETE CASCADE).
    pub fn delete(
        conn: &mut PgConnection,
        instance: Uuid,
        jira_user_key: &str,
    ) -> QueryResult<bool> {
        let n = diesel::delete(
            user_mapping::table
                .filter(user_mapping::jira_instance_id.eq(instance))
                .filter(user_mapping::jira_user_key.eq(jira_user_key)),
        )
        .execute(conn)?;
        Ok(n > 0)
    }
}
