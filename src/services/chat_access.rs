//! Who may see which chat linked to an issue: the one rule the `/api/v1` handlers and the pages
//! for Jira users share. A chat is visible to its creator, to its members as far as the appliance
//! knows them (`issue_chat_member`, through the viewer's Microsoft link), and, once shared, to
//! every Jira user who can see the issue (the caller has established that: the Jira app only
//! calls for such users, the pages ask Jira as the user). Also what a viewer's page needs of the
//! people around a chat: their links, the creator's name and the members' names.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::{Cursor, IssueChat, SharedAccess};
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::services::jira_session::SessionUser;
use crate::state::AppState;

/// The Jira user looking at an issue's chats, however they came (the Jira app's signed call or
/// a session on the appliance's pages).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub instance_id: Uuid,
    pub public_id: String,
    pub user_key: String,
    /// What their reads and changes are audited as.
    pub actor: Actor,
}

impl Viewer {
    /// The signed-in user of a page for Jira users.
    pub fn of_session(user: &SessionUser) -> Viewer {
        Viewer {
            instance_id: user.instance.id,
            public_id: user.instance.public_id.clone(),
            user_key: user.user_key.clone(),
            actor: user.actor(),
        }
    }
}

/// How a viewer stands to one linked chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub creator: bool,
    /// The creator or a known member (who read with their own Microsoft token).
    pub member: bool,
    /// Shared with everyone who can see the issue.
    pub shared: bool,
}

impl Standing {
    /// Whether the viewer may read the chat at all.
    pub fn may_read(&self) -> bool {
        self.member || self.shared
    }
}

/// True when the chat is shared with everyone who can see the issue.
pub fn is_shared(access: &Option<SharedAccess>) -> bool {
    access.as_ref().is_some_and(SharedAccess::is_shared)
}

/// Visible without asking who the members are: the creator's, or shared.
fn plainly_visible(viewer: &Viewer, chat: &IssueChat, access: &Option<SharedAccess>) -> bool {
    chat.created_by == viewer.user_key || is_shared(access)
}

/// The keyset position as an opaque, URL-safe cursor.
pub fn encode_cursor(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", c.0.timestamp_micros(), c.1))
}

/// A cursor [`encode_cursor`] made; `None` for anything else.
pub fn decode_cursor(s: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (micros, id) = text.split_once('|')?;
    let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, Uuid::parse_str(id).ok()?))
}

/// Up to `limit` chats of an issue the viewer may see, oldest first, after `after`; and the
/// position to continue from when the page is full (keyset paging, no OFFSET).
pub async fn list_visible(
    state: &AppState,
    viewer: &Viewer,
    issue: i64,
    mut after: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<(IssueChat, Option<SharedAccess>)>, Option<Cursor>), AppError> {
    let mut items = Vec::new();
    // invisible rows are skipped, so read until the page is full or the links run out
    loop {
        let (id, c) = (viewer.instance_id, after);
        let rows = db::run(&state.pool, move |conn| {
            Ok(IssueChat::list(conn, id, issue, c, limit)?)
        })
        .await?;
        let exhausted = (rows.len() as i64) < limit;
        let hidden: Vec<Uuid> = rows
            .iter()
            .filter(|(c, a)| !plainly_visible(viewer, c, a))
            .map(|(c, _)| c.id)
            .collect();
        let member_of = if hidden.is_empty() {
            Vec::new()
        } else {
            let (id, key) = (viewer.instance_id, viewer.user_key.clone());
            db::run(&state.pool, move |conn| {
                Ok(IssueChat::member_links(conn, id, &key, &hidden)?)
            })
            .await?
        };
        for (chat, access) in rows {
            after = Some((chat.created_at, chat.id));
            if plainly_visible(viewer, &chat, &access) || member_of.contains(&chat.id) {
                items.push((chat, access));
                if items.len() as i64 == limit {
                    break;
                }
            }
        }
        if items.len() as i64 == limit {
            return Ok((items, after));
        }
        if exhausted {
            return Ok((items, None));
        }
    }
}

/// The viewer's standing to a chat. With `need_membership` false the membership query is
/// skipped for a shared chat (reading it needs no more), so `member` may then be false for a
/// member.
pub async fn standing(
    state: &AppState,
    viewer: &Viewer,
    chat: &IssueChat,
    access: &Option<SharedAccess>,
    need_membership: bool,
) -> Result<Standing, AppError> {
    let creator = chat.created_by == viewer.user_key;
    let shared = is_shared(access);
    let member = creator
        || ((need_membership || !shared) && {
            let (id, key, link) = (viewer.instance_id, viewer.user_key.clone(), chat.id);
            !db::run(&state.pool, move |conn| {
                Ok(IssueChat::member_links(conn, id, &key, &[link])?)
            })
            .await?
            .is_empty()
        });
    Ok(Standing {
        creator,
        member,
        shared,
    })
}

/// A chat linked to an issue of the viewer's instance, by its Teams chat id, with its shared
/// access; `None` when it is not linked to that issue.
pub async fn find_by_chat_id(
    state: &AppState,
    viewer: &Viewer,
    issue: i64,
    chat_id: &str,
) -> Result<Option<(IssueChat, Option<SharedAccess>)>, AppError> {
    let (id, c) = (viewer.instance_id, chat_id.to_owned());
    Ok(db::run(&state.pool, move |conn| {
        Ok(IssueChat::find(conn, id, issue, &c)?)
    })
    .await?)
}

/// A link by its id, when it links a chat to this issue of the viewer's instance.
pub async fn find_by_link(
    state: &AppState,
    viewer: &Viewer,
    issue: i64,
    link: Uuid,
) -> Result<Option<(IssueChat, Option<SharedAccess>)>, AppError> {
    let found = db::run(&state.pool, move |conn| {
        Ok(IssueChat::by_id_with_access(conn, link)?)
    })
    .await?;
    Ok(found.filter(|(c, _)| c.jira_instance_id == viewer.instance_id && c.issue_id == issue))
}

/// A Jira user's Microsoft link on an instance, if any (whatever its status).
pub async fn mapping(
    state: &AppState,
    instance: Uuid,
    user_key: &str,
) -> Result<Option<UserMapping>, AppError> {
    let key = user_key.to_owned();
    Ok(db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, instance, &key)?)
    })
    .await?)
}

/// The people a page shows around some chats: each creator's Jira name (their key when the
/// appliance never learnt it) and each chat's known members' Microsoft names (`None` for a
/// member who never linked).
#[derive(Debug, Default)]
pub struct People {
    creators: Vec<(String, String)>,
    members: Vec<(Uuid, Option<String>)>,
    by_member: Vec<(Uuid, Uuid)>,
}

impl People {
    /// The name to show for a creator's user key.
    pub fn creator_name(&self, key: &str) -> String {
        self.creators
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| key.to_owned(), |(_, n)| n.clone())
    }

    /// The known members of a link: how many, and the names known of them.
    pub fn members_of(&self, link: Uuid) -> (usize, Vec<String>) {
        let ids: Vec<Uuid> = self
            .by_member
            .iter()
            .filter(|(l, _)| *l == link)
            .map(|(_, m)| *m)
            .collect();
        let names = ids
            .iter()
            .filter_map(|m| {
                self.members
                    .iter()
                    .find(|(id, _)| id == m)
                    .and_then(|(_, n)| n.clone())
            })
            .collect();
        (ids.len(), names)
    }
}

/// Who created and who is in each of `links` (one query each for members, members' links and
/// creators' links, however many chats).
pub async fn people(
    state: &AppState,
    instance: Uuid,
    links: &[IssueChat],
) -> Result<People, AppError> {
    let ids: Vec<Uuid> = links.iter().map(|l| l.id).collect();
    let mut creators: Vec<String> = links.iter().map(|l| l.created_by.clone()).collect();
    creators.sort();
    creators.dedup();
    Ok(db::run(&state.pool, move |conn| {
        let by_member = IssueChat::members_of(conn, &ids)?;
        let mut ms: Vec<Uuid> = by_member.iter().map(|(_, m)| *m).collect();
        ms.sort();
        ms.dedup();
        let known = UserMapping::by_ms_users(conn, instance, &ms)?;
        let members = ms
            .iter()
            .map(|m| {
                let name = known
                    .iter()
                    .find(|k| k.ms_user_id == *m)
                    .and_then(|k| k.ms_user_name.clone().or_else(|| k.jira_user_name.clone()));
                (*m, name)
            })
            .collect();
        let creators = UserMapping::by_jira_users(conn, instance, &creators)?
            .into_iter()
            .filter_map(|m| m.jira_user_name.map(|n| (m.jira_user_key, n)))
            .collect();
        Ok(People {
            creators,
            members,
            by_member,
        })
    })
    .await?)
}
