//! The card posted to a conversation for a Jira comment (conversation, instance, issue,
//! comment → Bot Connector activity id), so that edits and deletions of the comment update it in
//! place. Rows are forgotten [`KEEP_DAYS`] after their last use, purged whenever one is written.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::posted_card;

/// Days a card is remembered after its last post or update.
pub const KEEP_DAYS: i64 = 90;

/// Which comment's card, in which conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardKey {
    pub conversation_id: String,
    pub jira_instance_id: Uuid,
    pub issue_id: i64,
    pub comment_id: String,
}

/// A remembered card.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posted_card)]
pub struct PostedCard {
    pub conversation_id: String,
    pub jira_instance_id: Uuid,
    pub issue_id: i64,
    pub comment_id: String,
    pub activity_id: String,
    /// Jira timestamp of the newest event the card shows.
    pub last_event_ms: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PostedCard {
    /// The card of a comment in a conversation, if one is remembered.
    pub fn find(conn: &mut PgConnection, key: &CardKey) -> QueryResult<Option<PostedCard>> {
        posted_card::table
            .find((
                &key.conversation_id,
                key.jira_instance_id,
                key.issue_id,
                &key.comment_id,
            ))
            .select(PostedCard::as_select())
            .first(conn)
            .optional()
    }

    /// Remembers that the card of `key` is now `activity_id` showing the event of
    /// `event_ms` (a new card replaces a forgotten one), and forgets cards unused for
    /// [`KEEP_DAYS`].
    pub fn remember(
        conn: &mut PgConnection,
        key: &CardKey,
        activity_id: &str,
        event_ms: i64,
    ) -> QueryResult<()> {
        conn.transaction(|conn| {
            diesel::delete(posted_card::table.filter(
                posted_card::updated_at.lt(Utc::now() - chrono::Duration::days(KEEP_DAYS)),
            ))
            .execute(conn)?;
            let now = Utc::now();
            diesel::insert_into(posted_card::table)
                .values((
                    posted_card::conversation_id.eq(&key.conversation_id),
                    posted_card::jira_instance_id.eq(key.jira_instance_id),
                    posted_card::issue_id.eq(key.issue_id),
                    posted_card::comment_id.eq(&key.comment_id),
                    posted_card::activity_id.eq(activity_id),
                    posted_card::last_event_ms.eq(event_ms),
                ))
                .on_conflict((
                    posted_card::conversation_id,
                    posted_card::jira_instance_id,
                    posted_card::issue_id,
                    posted_card::comment_id,
                ))
                .do_update()
                .set((
                    posted_card::activity_id.eq(activity_id),
                    posted_card::last_event_ms.eq(event_ms),
                    posted_card::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(())
        })
    }
}
