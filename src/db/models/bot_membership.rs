//! Where the bot is installed: conversation (team, group chat, personal), tenant, the latest
//! service URL, and status (`installationAdded`, `teamMemberAdded`, removed, blocked).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::bot_membership;

/// Statuses under which the bot may post.
pub const ACTIVE: &[&str] = &["installationAdded", "teamMemberAdded"];

/// One installation.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bot_membership)]
pub struct BotMembership {
    pub id: Uuid,
    pub conversation_id: String,
    pub tenant_id: Uuid,
    pub scope: String,
    pub service_url: String,
    pub status: String,
    pub team_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BotMembership {
    /// The installation in a conversation, whatever its status.
    pub fn find(
        conn: &mut PgConnection,
        conversation_id: &str,
    ) -> QueryResult<Option<BotMembership>> {
        bot_membership::table
            .filter(bot_membership::conversation_id.eq(conversation_id))
            .select(BotMembership::as_select())
            .first(conn)
            .optional()
    }

    /// True when the bot may post here.
    pub fn is_active(&self) -> bool {
        ACTIVE.contains(&self.status.as_str())
    }

    /// Records that the conversation blocked the bot: nothing more is sent there.
    pub fn mark_blocked(conn: &mut PgConnection, id: Uuid) -> QueryResult<()> {
        diesel::update(bot_membership::table.find(id))
            .set((
                bot_membership::status.eq("messageWritesBlocked"),
                bot_membership::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(())
    }
}
