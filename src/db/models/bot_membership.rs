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

    /// The service URL Teams used most recently in a tenant (proactive 1:1 conversations).
    pub fn latest_service_url(
        conn: &mut PgConnection,
        tenant: Uuid,
    ) -> QueryResult<Option<String>> {
        bot_membership::table
            .filter(bot_membership::tenant_id.eq(tenant))
            .order(bot_membership::updated_at.desc())
            .select(bot_membership::service_url)
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

    /// Records an installation event: inserts or updates the conversation's row with the latest
    /// service URL, tenant and status.
    pub fn record(
        conn: &mut PgConnection,
        conversation_id: &str,
        tenant: Uuid,
        scope: &str,
        service_url: &str,
        status: &str,
    ) -> QueryResult<BotMembership> {
        let values = (
            bot_membership::tenant_id.eq(tenant),
            bot_membership::scope.eq(scope),
            bot_membership::service_url.eq(service_url),
            bot_membership::status.eq(status),
            bot_membership::updated_at.eq(diesel::dsl::now),
        );
        diesel::insert_into(bot_membership::table)
            .values((
                bot_membership::id.eq(Uuid::new_v4()),
                bot_membership::conversation_id.eq(conversation_id),
                values,
            ))
            .on_conflict(bot_membership::conversation_id)
            .do_update()
            .set(values)
            .returning(BotMembership::as_returning())
            .get_result(conn)
    }
}
