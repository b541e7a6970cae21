//! The card posted to a conversation for a Jira comment (conversation, instance, issue,
//! comment → Bot Connector activity id), so that edits and deletions of the comment update it in
//! place. Rows are forgotten [`KEEP_DAYS`] after their last use, purged whenever one is written.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::posted_card;
use crate::domain::jira_event::CardedComment;

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
    /// The card shows its comment's deletion.
    pub deleted: bool,
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

    /// The comments of an issue that have a card in some conversation (one row per comment:
    /// deleted only when every card of it shows the deletion), at most 1,000 (index
    /// `posted_card_issue_idx`).
    pub fn comments_of_issue(
        conn: &mut PgConnection,
        instance: Uuid,
        issue: i64,
    ) -> QueryResult<Vec<CardedComment>> {
        use diesel::dsl::{max, sql};
        use diesel::sql_types::Bool;
        let rows: Vec<(String, bool, Option<i64>)> = posted_card::table
            .filter(posted_card::jira_instance_id.eq(instance))
            .filter(posted_card::issue_id.eq(issue))
            .group_by(posted_card::comment_id)
            .select((
                posted_card::comment_id,
                sql::<Bool>("bool_and(deleted)"),
                max(posted_card::last_event_ms),
            ))
            .limit(1_000)
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(comment_id, deleted, last)| CardedComment {
                comment_id,
                deleted,
                last_event_ms: last.unwrap_or(0),
            })
            .collect())
    }

    /// Remembers that the card of `key` is now `activity_id` showing the event of
    /// `event_ms` (`deleted`: the comment's deletion; a new card replaces a forgotten one), and
    /// forgets cards unused for [`KEEP_DAYS`].
    pub fn remember(
        conn: &mut PgConnection,
        key: &CardKey,
        activity_id: &str,
        event_ms: i64,
        deleted: bool,
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
                    posted_card::deleted.eq(deleted),
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
                    posted_card::deleted.eq(deleted),
                    posted_card::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(())
        })
    }
}
