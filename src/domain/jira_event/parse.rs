//! Reading a webhook body into a [`JiraEvent`], in the shapes Jira Server/DC really sends
//! (PROTOCOLS.md §4.2):
//! - `jira:issue_*` with the `issue`, and for updates `issue_event_type_name`. A comment made,
//!   edited or deleted arrives as `jira:issue_updated` with `issue_commented`,
//!   `issue_comment_edited` or `issue_comment_deleted` (the last without any `comment`), and is a
//!   comment event here. Jira before 7 sends no `issue_event_type_name`: an update without a
//!   changelog is then a comment event too (a new or an edited comment when it carries one, a
//!   deleted one otherwise), since every field change has a changelog.
//! - `comment_created` / `comment_updated` / `comment_deleted`, which carry the comment and **no
//!   issue**: the issue's id is read from the comment's `self`
//!   (`…/rest/api/2/issue/{issueId}/comment/{commentId}`); its key and summary are fetched later,
//!   through the queue (see [`JiraEvent::needs_issue`]). Jira Cloud's shape, with an `issue`, is
//!   read the same way as an issue event.

use serde_json::Value;

use super::{EventKind, Involved, JiraEvent, mentions};

/// Why a payload was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    #[error("the payload has no webhookEvent")]
    NoEvent,
    #[error("the payload has no issue with a numeric id and a key")]
    NoIssue,
    #[error(
        "the payload names no issue: it has no issue (id and key) and no comment.self \
         (…/rest/api/2/issue/{{issueId}}/comment/{{commentId}})"
    )]
    NoIssueNamed,
    #[error("{0} is not an identifier (1 to 64 letters, digits, '-' or '_')")]
    BadId(&'static str),
}

/// Most comment ids read from an issue's comment list (a longer list is not used).
const MAX_LISTED_COMMENTS: usize = 5_000;

/// An optional id Jira sends as a number or a numeric string (`changelog.id`, `comment.id`): it
/// becomes part of the event's dedupe key, so anything that is not a short identifier is refused
/// rather than stored.
fn optional_id(v: &Value, pointer: &str, name: &'static str) -> Result<Option<String>, EventError> {
    let Some(raw) = v.pointer(pointer).filter(|x| !x.is_null()) else {
        return Ok(None);
    };
    text(raw)
        .filter(|s| is_identifier(s))
        .map(Some)
        .ok_or(EventError::BadId(name))
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn str_at(v: &Value, pointer: &str, max: usize) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(|s| clip(s, max))
}

/// The issue id in a comment's `self` URL (`…/rest/api/2/issue/{issueId}/comment/{commentId}`,
/// under any context path).
pub fn issue_id_in_comment_url(url: &str) -> Option<i64> {
    let (_, rest) = url.rsplit_once("/rest/api/2/issue/")?;
    let (id, rest) = rest.split_once('/')?;
    if !rest.starts_with("comment/") || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<i64>().ok().filter(|n| *n > 0)
}

/// The ids of the comments an issue payload lists, when the list is complete.
fn listed_comments(issue: &Value) -> Option<Vec<String>> {
    let list = issue.pointer("/fields/comment")?;
    let comments = list.get("comments")?.as_array()?;
    let total = list.get("total").and_then(Value::as_u64);
    if total.is_some_and(|t| t as usize > comments.len()) || comments.len() > MAX_LISTED_COMMENTS {
        return None;
    }
    Some(
        comments
            .iter()
            .filter_map(|c| c.get("id").and_then(text))
            .collect(),
    )
}

/// Which comment event an update is, from its event type or (Jira before 7) its shape.
fn comment_kind_of_update(v: &Value, event_type: Option<&str>) -> Option<EventKind> {
    match event_type {
        Some("issue_commented") => Some(EventKind::CommentCreated),
        Some("issue_comment_edited") => Some(EventKind::CommentUpdated),
        Some("issue_comment_deleted") => Some(EventKind::CommentDeleted),
        Some(_) => None,
        None => {
            let changed = v
                .pointer("/changelog/items")
                .and_then(Value::as_array)
                .is_some_and(|i| !i.is_empty());
            if changed {
                return None;
            }
            match v.get("comment").filter(|c| c.is_object()) {
                None => Some(EventKind::CommentDeleted),
                Some(c) => {
                    let edited = c.get("updated").is_some() && c.get("updated") != c.get("created");
                    Some(if edited {
                        EventKind::CommentUpdated
                    } else {
                        EventKind::CommentCreated
                    })
                }
            }
        }
    }
}

/// Parses a webhook body. `Ok(None)` is an event type the appliance does not relay.
pub fn parse(body: &[u8]) -> Result<Option<JiraEvent>, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(EventError::NotJson("not an object".into()));
    }
    let name = v
        .get("webhookEvent")
        .and_then(|e| e.as_str())
        .ok_or(EventError::NoEvent)?;
    let Some(mut kind) = EventKind::from_webhook_event(name) else {
        return Ok(None);
    };
    let event_type = str_at(&v, "/issue_event_type_name", 100);
    if kind == EventKind::IssueUpdated
        && let Some(k) = comment_kind_of_update(&v, event_type.as_deref())
    {
        kind = k;
    }
    let comment_id = optional_id(&v, "/comment/id", "comment.id")?;
    let (issue_id, issue_key, listed) = match v.get("issue").filter(|i| !i.is_null()) {
        Some(issue) => {
            let id = issue
                .get("id")
                .and_then(text)
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or(EventError::NoIssue)?;
            let key = issue
                .get("key")
                .and_then(|k| k.as_str())
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or(EventError::NoIssue)?;
            (id, key.to_owned(), listed_comments(issue))
        }
        None if kind.is_comment() => {
            let id = v
                .pointer("/comment/self")
                .and_then(Value::as_str)
                .and_then(issue_id_in_comment_url)
                .ok_or(EventError::NoIssueNamed)?;
            (id, String::new(), None)
        }
        None => return Err(EventError::NoIssue),
    };
    let issue = v.get("issue").cloned().unwrap_or(Value::Null);
    let changed_fields = v
        .pointer("/changelog/items")
        .and_then(|i| i.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("field").and_then(|f| f.as_str()))
                .map(|f| clip(f, 100))
                .take(50)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(JiraEvent {
        kind,
        event_type,
        timestamp_ms: v.get("timestamp").and_then(|t| t.as_i64()).unwrap_or(0),
        issue_id,
        issue_key,
        summary: str_at(&issue, "/fields/summary", 255),
        actor: v
            .pointer("/user/displayName")
            .or_else(|| v.pointer("/comment/updateAuthor/displayName"))
            .and_then(|s| s.as_str())
            .map(|s| clip(s, 255)),
        changed_fields,
        changelog_id: optional_id(&v, "/changelog/id", "changelog.id")?,
        comment_version: str_at(&v, "/comment/updated", 40),
        comment_id,
        listed_comments: listed,
        involved: Involved {
            project_key: str_at(&issue, "/fields/project/key", 100),
            actor_key: v
                .pointer("/user/key")
                .or_else(|| v.pointer("/comment/updateAuthor/key"))
                .or_else(|| v.pointer("/comment/author/key"))
                .and_then(|k| k.as_str())
                .map(|k| clip(k, 255)),
            assignee_key: str_at(&issue, "/fields/assignee/key", 255),
            reporter_key: str_at(&issue, "/fields/reporter/key", 255),
            mentioned_names: v
                .pointer("/comment/body")
                .and_then(|b| b.as_str())
                .map(mentions)
                .unwrap_or_default(),
            comment_restricted: v
                .pointer("/comment/visibility")
                .is_some_and(|vis| vis.is_object()),
        },
    }))
}
