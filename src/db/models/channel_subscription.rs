//! Teams channels subscribed to a Jira project's events.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::channel_subscription;

/// The events a subscription may name (the snake-case [`crate::domain::jira_event::EventKind`]s).
pub const EVENTS: [&str; 6] = [
    "issue_created",
    "issue_updated",
    "issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

/// One channel's subscription to one project.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = channel_subscription)]
pub struct ChannelSubscription {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub conversation_id: String,
    pub tenant_id: Uuid,
    pub project_key: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
    pub owner_mapping_id: Uuid,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A subscription to store (a repeat for the same channel and project replaces it).
pub struct NewSubscription<'a> {
    pub instance: Uuid,
    pub conversation_id: &'a str,
    pub tenant_id: Uuid,
    pub project_key: &'a str,
    pub events: &'a [String],
    pub jql: Option<&'a str>,
    pub owner_mapping_id: Uuid,
    pub created_by: &'a str,
}

impl ChannelSubscription {
    /// Stores a subscription, replacing the channel's earlier one for the same project.
    pub fn upsert(conn: &mut PgConnection, s: &NewSubscription<'_>) -> QueryResult<()> {
        diesel::insert_into(channel_subscription::table)
            .values((
                channel_subscription::id.eq(Uuid::new_v4()),
                channel_subscription::jira_instance_id.eq(s.instance),
                channel_subscription::conversation_id.eq(s.conversation_id),
                channel_subscription::tenant_id.eq(s.tenant_id),
                channel_subscription::project_key.eq(s.project_key),
                channel_subscription::events.eq(s.events),
                channel_subscription::jql.eq(s.jql),
                channel_subscription::owner_mapping_id.eq(s.owner_mapping_id),
                channel_subscription::created_by.eq(s.created_by),
            ))
            .on_conflict((
                channel_subscription::jira_instance_id,
                channel_subscription::conversation_id,
                channel_subscription::project_key,
            ))
            .do_update()
            .set((
                channel_subscription::events.eq(s.events),
                channel_subscription::jql.eq(s.jql),
                channel_subscription::owner_mapping_id.eq(s.owner_mapping_id),
                channel_subscription::created_by.eq(s.created_by),
                channel_subscription::created_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Removes a channel's subscription to a project (any instance); returns how many went.
    pub fn remove(
        conn: &mut PgConnection,
        conversation_id: &str,
        project_key: &str,
    ) -> QueryResult<usize> {
        diesel::delete(
            channel_subscription::table
                .filter(channel_subscription::conversation_id.eq(conversation_id))
                .filter(channel_subscription::project_key.eq(project_key)),
        )
        .execute(conn)
    }

    /// A channel's subscriptions.
    pub fn of_conversation(
        conn: &mut PgConnection,
        conversation_id: &str,
    ) -> QueryResult<Vec<ChannelSubscription>> {
        channel_subscription::table
            .filter(channel_subscription::conversation_id.eq(conversation_id))
            .order(channel_subscription::project_key.asc())
            .select(ChannelSubscription::as_select())
            .load(conn)
    }

    /// The subscriptions an event of `project_key` of kind `event` reaches.
    pub fn for_event(
        conn: &mut PgConnection,
        instance: Uuid,
        project_key: &str,
        event: &str,
    ) -> QueryResult<Vec<ChannelSubscription>> {
        use diesel::PgArrayExpressionMethods;
        channel_subscription::table
            .filter(channel_subscription::jira_instance_id.eq(instance))
            .filter(channel_subscription::project_key.eq(project_key))
            .filter(channel_subscription::events.contains(vec![event.to_owned()]))
            .select(ChannelSubscription::as_select())
            .load(conn)
    }

    /// Up to `limit` owners of the instance's subscriptions to events of `kind`, in any project
    /// (who may be asked about an issue whose project is not known yet).
    pub fn owners_for_kind(
        conn: &mut PgConnection,
        instance: Uuid,
        kind: &str,
        limit: i64,
    ) -> QueryResult<Vec<Uuid>> {
        use diesel::PgArrayExpressionMethods;
        channel_subscription::table
            .filter(channel_subscription::jira_instance_id.eq(instance))
            .filter(channel_subscription::events.contains(vec![kind.to_owned()]))
            .select(channel_subscription::owner_mapping_id)
            .distinct()
            .limit(limit)
            .load(conn)
    }
}
