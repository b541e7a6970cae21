//! Jira Data Center webhook payloads (PROTOCOLS.md §4.2), reduced to what a notification needs.
//! Nothing else of the payload is kept.

use serde::{Deserialize, Serialize};

/// The events the appliance relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    IssueCreated,
    IssueUpdated,
    IssueDeleted,
    CommentCreated,
    CommentUpdated,
    CommentDeleted,
}

impl EventKind {
    fn from_webhook_event(s: &str) -> Option<EventKind> {
        Some(match s {
            "jira:issue_created" => EventKind::IssueCreated,
            "jira:issue_updated" => EventKind::IssueUpdated,
            "jira:issue_deleted" => EventKind::IssueDeleted,
            "comment_created" => EventKind::CommentCreated,
            "comment_updated" => EventKind::CommentUpdated,
            "comment_deleted" => EventKind::CommentDeleted,
            _ => return None,
        })
    }
}

/// What a notification needs from one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraEvent {
    pub kind: EventKind,
    /// `issue_event_type_name` (`issue_commented`, `issue_assigned`, …) when sent.
    pub event_type: Option<String>,
    pub timestamp_ms: i64,
    pub issue_id: i64,
    pub issue_key: String,
    pub summary: Option<String>,
    /// Display name of the user who caused the event.
    pub actor: Option<String>,
    /// Names of the fields the changelog lists.
    pub changed_fields: Vec<String>,
    pub changelog_id: Option<String>,
    pub comment_id: Option<String>,
    /// Who the event concerns (personal notifications and channel subscriptions).
    #[serde(default)]
    pub involved: Involved,
}

/// The project and the people an event concerns: Jira user keys (stable, PROTOCOLS.md §7.1),
/// and the user names a comment mentions (`[~name]`, DC wiki markup).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Involved {
    pub project_key: Option<String>,
    /// The user who caused the event (never notified about their own change).
    pub actor_key: Option<String>,
    pub assignee_key: Option<String>,
    pub reporter_key: Option<String>,
    pub mentioned_names: Vec<String>,
    /// The comment is limited to a role or group (`visibility`).
    pub comment_restricted: bool,
}

/// The user names `[~name]` mentions in wiki markup name, at most 20, without repeats.
pub fn mentions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("[~") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find(']') else { break };
        let name = &rest[..end];
        if !name.is_empty()
            && name.len() <= 255
            && !name.contains(['[', '\n'])
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_owned());
        }
        if out.len() == 20 {
            break;
        }
        rest = &rest[end..];
    }
    out
}

/// Why a payload was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    #[error("the payload has no webhookEvent")]
    NoEvent,
    #[error("the payload has no issue with a numeric id and a key")]
    NoIssue,
    #[error("{0} is not an identifier (1 to 64 letters, digits, '-' or '_')")]
    BadId(&'static str),
}

/// An optional id Jira sends as a number or a numeric string (`changelog.id`, `comment.id`): it
/// becomes part of the event's dedupe key, so anything that is not a short identifier is refused
/// rather than stored.
fn optional_id(
    v: &serde_json::Value,
    pointer: &str,
    name: &'static str,
) -> Result<Option<String>, EventError> {
    let Some(raw) = v.pointer(pointer).filter(|x| !x.is_null()) else {
        return Ok(None);
    };
    text(raw)
        .filter(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(Some)
        .ok_or(EventError::BadId(name))
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a webhook body. `Ok(None)` is an event type the appliance does not relay.
pub fn parse(body: &[u8]) -> Result<Option<JiraEvent>, EventError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(EventError::NotJson("not an object".into()));
    }
    let name = v
        .get("webhookEvent")
        .and_then(|e| e.as_str())
        .ok_or(EventError::NoEvent)?;
    let Some(kind) = EventKind::from_webhook_event(name) else {
        return Ok(None);
    };
    let issue = v.get("issue").ok_or(EventError::NoIssue)?;
    let issue_id = issue
        .get("id")
        .and_then(text)
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or(EventError::NoIssue)?;
    let issue_key = issue
        .get("key")
        .and_then(|k| k.as_str())
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or(EventError::NoIssue)?;
    let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
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
        event_type: v
            .get("issue_event_type_name")
            .and_then(|t| t.as_str())
            .map(|t| clip(t, 100)),
        timestamp_ms: v.get("timestamp").and_then(|t| t.as_i64()).unwrap_or(0),
        issue_id,
        issue_key: issue_key.to_owned(),
        summary: issue
            .pointer("/fields/summary")
            .and_then(|s| s.as_str())
            .map(|s| clip(s, 255)),
        actor: v
            .pointer("/user/displayName")
            .or_else(|| v.pointer("/comment/updateAuthor/displayName"))
            .and_then(|s| s.as_str())
            .map(|s| clip(s, 255)),
        changed_fields,
        changelog_id: optional_id(&v, "/changelog/id", "changelog.id")?,
        comment_id: optional_id(&v, "/comment/id", "comment.id")?,
        involved: Involved {
            project_key: issue
                .pointer("/fields/project/key")
                .and_then(|k| k.as_str())
                .map(|k| clip(k, 100)),
            actor_key: v
                .pointer("/user/key")
                .or_else(|| v.pointer("/comment/updateAuthor/key"))
                .or_else(|| v.pointer("/comment/author/key"))
                .and_then(|k| k.as_str())
                .map(|k| clip(k, 255)),
            assignee_key: issue
                .pointer("/fields/assignee/key")
                .and_then(|k| k.as_str())
                .map(|k| clip(k, 255)),
            reporter_key: issue
                .pointer("/fields/reporter/key")
                .and_then(|k| k.as_str())
                .map(|k| clip(k, 255)),
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

impl JiraEvent {
    /// Identifies the event across repeated deliveries of the same webhook.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{:?}:{}:{}:{}:{}",
            self.kind,
            self.issue_id,
            self.changelog_id.as_deref().unwrap_or("-"),
            self.comment_id.as_deref().unwrap_or("-"),
            self.timestamp_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changelog_and_comment_ids_must_be_short_identifiers() {
        let with = |changelog: &str, comment: &str| {
            format!(
                r#"{{"webhookEvent":"jira:issue_updated","issue":{{"id":"1","key":"A-1"}},
                "changelog":{{"id":{changelog}}},"comment":{{"id":{comment}}}}}"#
            )
        };
        let ok = parse(with("10500", "\"77\"").as_bytes()).unwrap().unwrap();
        assert_eq!(ok.changelog_id.as_deref(), Some("10500"));
        assert_eq!(ok.comment_id.as_deref(), Some("77"));
        let long = format!("\"{}\"", "9".repeat(65));
        assert_eq!(
            parse(with(&long, "1").as_bytes()),
            Err(EventError::BadId("changelog.id"))
        );
        assert_eq!(
            parse(with("1", "\"a b\"").as_bytes()),
            Err(EventError::BadId("comment.id"))
        );
        assert_eq!(
            parse(with("{}", "1").as_bytes()),
            Err(EventError::BadId("changelog.id"))
        );
        let none = parse(with("null", "null").as_bytes()).unwrap().unwrap();
        assert_eq!((none.changelog_id, none.comment_id), (None, None));
    }

    #[test]
    fn mentions_are_the_names_in_tilde_brackets() {
        assert_eq!(
            mentions("[~alice] and [~bob], again [~alice]; [~] [~x\ny] [~carol"),
            vec!["alice".to_owned(), "bob".to_owned()]
        );
    }

    #[test]
    fn an_issue_update_is_reduced_to_what_a_card_needs() {
        let body = br#"{"timestamp":1764100000000,"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic",
            "user":{"name":"alice","key":"JIRAUSER10100","displayName":"Alice A","emailAddress":"alice@example.com"},
            "issue":{"id":"10045","key":"ABC-1","fields":{"summary":"Fix login","description":"secret plans"}},
            "changelog":{"id":"10500","items":[{"field":"status","fromString":"Open","toString":"Done"}]}}"#;
        let e = parse(body).unwrap().unwrap();
        assert_eq!(e.kind, EventKind::IssueUpdated);
        assert_eq!((e.issue_id, e.issue_key.as_str()), (10045, "ABC-1"));
        assert_eq!(e.changed_fields, vec!["status"]);
        assert_eq!(e.actor.as_deref(), Some("Alice A"));
        let kept = serde_json::to_string(&e).unwrap();
        assert!(
            !kept.contains("secret plans") && !kept.contains("alice@example.com"),
            "only what a card needs is kept"
        );
    }

    #[test]
    fn other_events_are_ignored_and_broken_ones_refused() {
        assert_eq!(
            parse(br#"{"webhookEvent":"worklog_created"}"#).unwrap(),
            None
        );
        assert_eq!(
            parse(b"[]").unwrap_err(),
            EventError::NotJson("not an object".into())
        );
        assert!(matches!(parse(b"{").unwrap_err(), EventError::NotJson(_)));
        assert_eq!(parse(br#"{"issue":{}}"#).unwrap_err(), EventError::NoEvent);
        assert_eq!(
            parse(br#"{"webhookEvent":"jira:issue_created","issue":{"key":"A-1"}}"#).unwrap_err(),
            EventError::NoIssue
        );
    }

    #[test]
    fn repeats_share_a_dedupe_key_and_distinct_events_do_not() {
        let a = br#"{"timestamp":1,"webhookEvent":"comment_created","issue":{"id":10045,"key":"ABC-1"},"comment":{"id":"10500"}}"#;
        let b = br#"{"timestamp":1,"webhookEvent":"comment_updated","issue":{"id":10045,"key":"ABC-1"},"comment":{"id":"10500"}}"#;
        let ea = parse(a).unwrap().unwrap();
        assert_eq!(ea.dedupe_key(), parse(a).unwrap().unwrap().dedupe_key());
        assert_ne!(ea.dedupe_key(), parse(b).unwrap().unwrap().dedupe_key());
    }
}
