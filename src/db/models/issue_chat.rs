//! Jira issue ↔ Teams chat links and their shared access.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{issue_chat, issue_chat_member, shared_chat_access};

/// A chat linked to an issue, with its shared-access row when one was set.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = issue_chat)]
pub struct IssueChat {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub issue_id: i64,
    pub created_by: String,
    pub chat_id: String,
    pub created_at: DateTime<Utc>,
    /// The chat's Teams topic, as Graph gave it when the chat was linked.
    pub topic: Option<String>,
    /// Graph's `webUrl` of the chat (*Open in Teams*).
    pub web_url: Option<String>,
    /// Teams answered 404 for the chat: its remote link is shown struck through.
    pub chat_gone: bool,
    /// Jira said the issue was deleted (the link stays for export; its page answers 410).
    pub issue_deleted: bool,
    /// The remote link in the Jira issue: `pending`, `linked`, `refused`, `needs_sign_in` or
    /// `off` (remote links are switched off for the instance).
    pub remote_link_state: String,
    /// Jira's words when it refused the remote link.
    pub remote_link_detail: Option<String>,
    /// Bumped by every change the remote link must show; names the outbox row that writes it.
    pub remote_link_version: i32,
    /// Linked from Teams (attached) rather than started from the issue: it cannot be shared.
    pub attached: bool,
}

/// Who may read a chat without being a member.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shared_chat_access)]
pub struct SharedAccess {
    pub id: Uuid,
    pub issue_chat_id: Uuid,
    pub restrictions: serde_json::Value,
    pub set_by: String,
    pub updated_at: DateTime<Utc>,
}

impl SharedAccess {
    /// True when every Jira user who can see the issue may read the chat.
    pub fn is_shared(&self) -> bool {
        self.restrictions
            .get("publicAccess")
            .and_then(|v| v.as_str())
            == Some("share")
    }
}

/// A chat to link to an issue.
#[derive(Debug, Clone, Copy)]
pub struct NewIssueChat<'a> {
    pub instance: Uuid,
    pub issue_id: i64,
    pub chat_id: &'a str,
    /// The Jira user key of whoever linked it (its creator).
    pub created_by: &'a str,
    pub topic: Option<&'a str>,
    pub web_url: Option<&'a str>,
    /// Linked from Teams rather than started for the issue.
    pub attached: bool,
}

/// Keyset position for paging (created_at, id).
pub type Cursor = (DateTime<Utc>, Uuid);

impl IssueChat {
    /// Links of an issue after `after`, oldest first, with their shared access.
    pub fn list(
        conn: &mut PgConnection,
        instance: Uuid,
        issue: i64,
        after: Option<Cursor>,
        limit: i64,
    ) -> QueryResult<Vec<(IssueChat, Option<SharedAccess>)>> {
        let mut q = issue_chat::table
            .left_join(shared_chat_access::table)
            .filter(issue_chat::jira_instance_id.eq(instance))
            .filter(issue_chat::issue_id.eq(issue))
            .into_boxed();
        if let Some((at, id)) = after {
            q = q.filter(
                issue_chat::created_at
                    .gt(at)
                    .or(issue_chat::created_at.eq(at).and(issue_chat::id.gt(id))),
            );
        }
        q.order((issue_chat::created_at.asc(), issue_chat::id.asc()))
            .limit(limit)
            .select((IssueChat::as_select(), Option::<SharedAccess>::as_select()))
            .load(conn)
    }

    /// One link with its shared access.
    pub fn find(
        conn: &mut PgConnection,
        instance: Uuid,
        issue: i64,
        chat_id: &str,
    ) -> QueryResult<Option<(IssueChat, Option<SharedAccess>)>> {
        issue_chat::table
            .left_join(shared_chat_access::table)
            .filter(issue_chat::jira_instance_id.eq(instance))
            .filter(issue_chat::issue_id.eq(issue))
            .filter(issue_chat::chat_id.eq(chat_id))
            .select((IssueChat::as_select(), Option::<SharedAccess>::as_select()))
            .first(conn)
            .optional()
    }

    /// Links a chat; `None` when the link exists already. Callers go through
    /// `services::issue_chats`, which queues the remote link in the same transaction.
    pub fn insert(
        conn: &mut PgConnection,
        new: &NewIssueChat<'_>,
    ) -> QueryResult<Option<IssueChat>> {
        diesel::insert_into(issue_chat::table)
            .values((
                issue_chat::id.eq(Uuid::new_v4()),
                issue_chat::jira_instance_id.eq(new.instance),
                issue_chat::issue_id.eq(new.issue_id),
                issue_chat::chat_id.eq(new.chat_id),
                issue_chat::created_by.eq(new.created_by),
                issue_chat::topic.eq(new.topic),
                issue_chat::web_url.eq(new.web_url),
                issue_chat::attached.eq(new.attached),
            ))
            .on_conflict_do_nothing()
            .returning(IssueChat::as_returning())
            .get_result(conn)
            .optional()
    }

    /// One link by id.
    pub fn by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<IssueChat>> {
        issue_chat::table
            .find(id)
            .select(IssueChat::as_select())
            .first(conn)
            .optional()
    }

    /// One link by id with its shared access.
    pub fn by_id_with_access(
        conn: &mut PgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(IssueChat, Option<SharedAccess>)>> {
        issue_chat::table
            .left_join(shared_chat_access::table)
            .filter(issue_chat::id.eq(id))
            .select((IssueChat::as_select(), Option::<SharedAccess>::as_select()))
            .first(conn)
            .optional()
    }

    /// Bumps the version of a link's remote link (something it shows changed); returns the new
    /// version, `None` when the link is gone.
    pub fn bump_remote_link(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<i32>> {
        diesel::update(issue_chat::table.find(id))
            .set((
                issue_chat::remote_link_version.eq(issue_chat::remote_link_version + 1),
                issue_chat::remote_link_state.eq("pending"),
                issue_chat::remote_link_detail.eq(None::<String>),
            ))
            .returning(issue_chat::remote_link_version)
            .get_result(conn)
            .optional()
    }

    /// Records what Jira did with a link's remote link (`linked`, `refused`, `needs_sign_in`,
    /// `off`) unless a newer version is already queued.
    pub fn set_remote_link_state(
        conn: &mut PgConnection,
        id: Uuid,
        version: i32,
        state: &str,
        detail: Option<&str>,
    ) -> QueryResult<bool> {
        let detail = detail.map(|d| d.chars().take(1000).collect::<String>());
        let n = diesel::update(
            issue_chat::table
                .find(id)
                .filter(issue_chat::remote_link_version.eq(version)),
        )
        .set((
            issue_chat::remote_link_state.eq(state),
            issue_chat::remote_link_detail.eq(detail),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Marks a link's chat as deleted in Teams (Graph answered 404); `true` when it was not
    /// marked before.
    pub fn mark_chat_gone(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        let n = diesel::update(
            issue_chat::table
                .find(id)
                .filter(issue_chat::chat_gone.eq(false)),
        )
        .set(issue_chat::chat_gone.eq(true))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Stores a chat's topic and `webUrl` fetched from Graph for a link made before they were
    /// kept.
    pub fn set_chat_details(
        conn: &mut PgConnection,
        id: Uuid,
        topic: Option<&str>,
        web_url: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(issue_chat::table.find(id))
            .set((issue_chat::topic.eq(topic), issue_chat::web_url.eq(web_url)))
            .execute(conn)?;
        Ok(())
    }

    /// Removes a link (its shared access goes with it).
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        Ok(diesel::delete(issue_chat::table.find(id)).execute(conn)? == 1)
    }

    /// Sets shared access (`share` or `none`) for a link.
    pub fn set_access(
        conn: &mut PgConnection,
        link: Uuid,
        public_access: &str,
        set_by: &str,
    ) -> QueryResult<SharedAccess> {
        let restrictions = serde_json::json!({ "publicAccess": public_access });
        diesel::insert_into(shared_chat_access::table)
            .values((
                shared_chat_access::id.eq(Uuid::new_v4()),
                shared_chat_access::issue_chat_id.eq(link),
                shared_chat_access::restrictions.eq(&restrictions),
                shared_chat_access::set_by.eq(set_by),
            ))
            .on_conflict(shared_chat_access::issue_chat_id)
            .do_update()
            .set((
                shared_chat_access::restrictions.eq(&restrictions),
                shared_chat_access::set_by.eq(set_by),
                shared_chat_access::updated_at.eq(diesel::dsl::now),
            ))
            .returning(SharedAccess::as_returning())
            .get_result(conn)
    }

    /// Records the Microsoft users a chat was created with.
    pub fn add_members(conn: &mut PgConnection, link: Uuid, members: &[Uuid]) -> QueryResult<()> {
        let rows: Vec<_> = members
            .iter()
            .map(|m| {
                (
                    issue_chat_member::issue_chat_id.eq(link),
                    issue_chat_member::ms_user_id.eq(*m),
                )
            })
            .collect();
        diesel::insert_into(issue_chat_member::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)?;
        Ok(())
    }

    /// The Microsoft users known to be members of a chat linked to an issue (empty when the chat
    /// was linked by id, not created by the appliance, or is not linked to that issue).
    pub fn known_members(
        conn: &mut PgConnection,
        instance: Uuid,
        issue_id: i64,
        chat_id: &str,
    ) -> QueryResult<Vec<Uuid>> {
        issue_chat_member::table
            .inner_join(issue_chat::table)
            .filter(issue_chat::jira_instance_id.eq(instance))
            .filter(issue_chat::issue_id.eq(issue_id))
            .filter(issue_chat::chat_id.eq(chat_id))
            .select(issue_chat_member::ms_user_id)
            .load(conn)
    }

    /// The known members of each of `links`: (link, Microsoft user id) pairs.
    pub fn members_of(conn: &mut PgConnection, links: &[Uuid]) -> QueryResult<Vec<(Uuid, Uuid)>> {
        issue_chat_member::table
            .filter(issue_chat_member::issue_chat_id.eq_any(links))
            .order((
                issue_chat_member::issue_chat_id.asc(),
                issue_chat_member::ms_user_id.asc(),
            ))
            .select((
                issue_chat_member::issue_chat_id,
                issue_chat_member::ms_user_id,
            ))
            .load(conn)
    }

    /// Marks every link of an issue as belonging to an issue Jira deleted (`jira:issue_deleted`);
    /// the links stay for export and the issue's page answers 410. Returns how many were marked.
    pub fn mark_issue_deleted(
        conn: &mut PgConnection,
        instance: Uuid,
        issue: i64,
    ) -> QueryResult<usize> {
        diesel::update(
            issue_chat::table
                .filter(issue_chat::jira_instance_id.eq(instance))
                .filter(issue_chat::issue_id.eq(issue))
                .filter(issue_chat::issue_deleted.eq(false)),
        )
        .set(issue_chat::issue_deleted.eq(true))
        .execute(conn)
    }

    /// True when a link of the issue says Jira deleted it.
    pub fn issue_was_deleted(
        conn: &mut PgConnection,
        instance: Uuid,
        issue: i64,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            issue_chat::table
                .filter(issue_chat::jira_instance_id.eq(instance))
                .filter(issue_chat::issue_id.eq(issue))
                .filter(issue_chat::issue_deleted.eq(true)),
        ))
        .get_result(conn)
    }

    /// Which of `links` the Jira user is a known member of (through their Microsoft link).
    pub fn member_links(
        conn: &mut PgConnection,
        instance: Uuid,
        jira_user_key: &str,
        links: &[Uuid],
    ) -> QueryResult<Vec<Uuid>> {
        use crate::db::schema::user_mapping;
        issue_chat_member::table
            .filter(issue_chat_member::issue_chat_id.eq_any(links))
            .filter(
                issue_chat_member::ms_user_id.eq_any(
                    user_mapping::table
                        .filter(user_mapping::jira_instance_id.eq(instance))
                        .filter(user_mapping::jira_user_key.eq(jira_user_key))
                        .select(user_mapping::ms_user_id),
                ),
            )
            .select(issue_chat_member::issue_chat_id)
            .load(conn)
    }
}

/// What the remote link of a chat in its Jira issue needs (`jobs::deliver::jira_remote_link`).
impl IssueChat {
    /// How many Microsoft users are known to be members of a linked chat (0 when it was linked
    /// by id and none are known).
    pub fn member_count(conn: &mut PgConnection, link: Uuid) -> QueryResult<i64> {
        issue_chat_member::table
            .filter(issue_chat_member::issue_chat_id.eq(link))
            .count()
            .get_result(conn)
    }

    /// Ids of an instance's links after `after`, in id order: a bounded batch to walk every link
    /// (when remote links are switched back on) without one huge transaction.
    pub fn ids_of_instance(
        conn: &mut PgConnection,
        instance: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<Uuid>> {
        let mut q = issue_chat::table
            .filter(issue_chat::jira_instance_id.eq(instance))
            .into_boxed();
        if let Some(after) = after {
            q = q.filter(issue_chat::id.gt(after));
        }
        q.order(issue_chat::id.asc())
            .limit(limit)
            .select(issue_chat::id)
            .load(conn)
    }
}

impl IssueChat {
    /// Up to `limit` links of a Jira user of an instance whose remote link waits for them to
    /// sign in again (`issue_chat_needs_sign_in_idx`).
    pub fn waiting_for_sign_in(
        conn: &mut PgConnection,
        instance: Uuid,
        created_by: &str,
        limit: i64,
    ) -> QueryResult<Vec<Uuid>> {
        issue_chat::table
            .filter(issue_chat::jira_instance_id.eq(instance))
            .filter(issue_chat::created_by.eq(created_by))
            .filter(issue_chat::remote_link_state.eq("needs_sign_in"))
            .select(issue_chat::id)
            .limit(limit)
            .load(conn)
    }
}
