//! Jira Data Center webhook payloads (PROTOCOLS.md §4.2), reduced to what a notification needs.
//! Nothing else of the payload is kept. How each real shape is read is in [`parse`]; how the two
//! shapes Jira sends for one comment become one event, in [`JiraEvent::dedupe_key`].

use serde::{Deserialize, Serialize};

mod parse;

pub use parse::{EventError, issue_id_in_comment_url, parse};

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

/// The `webhookEvent` names the appliance relays: what a webhook registered for it subscribes to
/// (one for each [`EventKind`], as `from_webhook_event` reads them).
pub const WEBHOOK_EVENTS: [&str; 6] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

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

    /// A comment made, edited or deleted.
    pub fn is_comment(self) -> bool {
        matches!(
            self,
            EventKind::CommentCreated | EventKind::CommentUpdated | EventKind::CommentDeleted
        )
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
    /// Empty when the payload named the issue only by its id (Jira DC's `comment_*` events):
    /// see [`JiraEvent::needs_issue`].
    pub issue_key: String,
    pub summary: Option<String>,
    /// Display name of the user who caused the event.
    pub actor: Option<String>,
    /// Names of the fields the changelog lists.
    pub changed_fields: Vec<String>,
    pub changelog_id: Option<String>,
    pub comment_id: Option<String>,
    /// The comment's `updated` time: tells one edit of a comment from the next.
    #[serde(default)]
    pub comment_version: Option<String>,
    /// The ids of the comments the issue still has, when the payload listed all of them (read
    /// at intake to tell which comment an `issue_comment_deleted` removed; not stored).
    #[serde(skip)]
    pub listed_comments: Option<Vec<String>>,
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

/// A comment that has a card in some conversation (`posted_card`), as the intake sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardedComment {
    pub comment_id: String,
    /// The card shows the comment's deletion.
    pub deleted: bool,
    /// Jira timestamp of the event the card shows.
    pub last_event_ms: i64,
}

/// How far apart (ms) the two shapes of one deletion may be stamped and still be one deletion.
const SAME_DELETION_MS: i64 = 5_000;

impl JiraEvent {
    /// Identifies the event across repeated deliveries of the same webhook, and across the two
    /// shapes Jira DC sends for one comment (`comment_*` and `jira:issue_updated` with
    /// `issue_comment*`): a comment's creation is one event, each edit one event (told apart by
    /// the comment's `updated` time, which both shapes carry alike), a deletion one event, keyed
    /// by the issue and the deletion's `timestamp`, which both shapes carry alike (the
    /// `issue_comment_deleted` half cannot name its comment).
    pub fn dedupe_key(&self) -> String {
        let issue = self.issue_id;
        match (self.kind, self.comment_id.as_deref()) {
            (EventKind::CommentCreated, Some(c)) => format!("comment:{issue}:{c}:created"),
            (EventKind::CommentUpdated, Some(c)) => match &self.comment_version {
                Some(v) => format!("comment:{issue}:{c}:edited:{v}"),
                None => format!("comment:{issue}:{c}:edited@{}", self.timestamp_ms),
            },
            (EventKind::CommentDeleted, _) => {
                format!("comment:{issue}:deleted@{}", self.timestamp_ms)
            }
            _ => format!(
                "{:?}:{}:{}:{}:{}",
                self.kind,
                self.issue_id,
                self.changelog_id.as_deref().unwrap_or("-"),
                self.comment_id.as_deref().unwrap_or("-"),
                self.timestamp_ms
            ),
        }
    }

    /// True when the payload named the issue only by its id: its key, summary, project and
    /// people are fetched from Jira (as someone who may see it) before any card is made.
    pub fn needs_issue(&self) -> bool {
        self.issue_key.is_empty()
    }

    /// Fills in what Jira said of the issue an event named only by its id.
    pub fn complete_issue(
        &mut self,
        key: &str,
        summary: Option<&str>,
        project: Option<&str>,
        assignee: Option<&str>,
        reporter: Option<&str>,
    ) {
        let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        self.issue_key = clip(key, 255);
        self.summary = summary.map(|s| clip(s, 255));
        self.involved.project_key = project.map(|s| clip(s, 100));
        self.involved.assignee_key = assignee.map(|s| clip(s, 255));
        self.involved.reporter_key = reporter.map(|s| clip(s, 255));
    }

    /// Names the comment an `issue_comment_deleted` removed (it carries none), from the comments
    /// of its issue that have cards (`carded`): the one comment with a card that the issue no
    /// longer lists (a card already showing a deletion counts only when that deletion is this
    /// one). Its cards are then updated in place. When the list is incomplete, or no single
    /// comment fits, it stays unnamed: one "deleted a comment" card.
    pub fn settle_deletion(&mut self, carded: &[CardedComment]) {
        if self.kind != EventKind::CommentDeleted || self.comment_id.is_some() {
            return;
        }
        let Some(listed) = &self.listed_comments else {
            return;
        };
        let mut fits: Vec<&str> = carded
            .iter()
            .filter(|k| !listed.contains(&k.comment_id))
            .filter(|k| {
                !k.deleted || (k.last_event_ms - self.timestamp_ms).abs() <= SAME_DELETION_MS
            })
            .map(|k| k.comment_id.as_str())
            .collect();
        fits.sort_unstable();
        fits.dedup();
        if let [one] = fits[..] {
            self.comment_id = Some(one.to_owned());
        }
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

    // The two shapes Jira Server/DC sends for one comment (mattermost-plugin-jira's captures
    // show them; these are our own values): `comment_*` with the comment and no issue, and
    // `jira:issue_updated` with `issue_comment*` and the issue.
    const ISSUE: &str = r#""issue":{"id":"10045","key":"ABC-1","fields":{"summary":"Printer on fire","project":{"key":"ABC"},
        "comment":{"comments":[{"id":"10600"},{"id":"10601"}],"maxResults":2,"total":2,"startAt":0}}}"#;
    const COMMENT: &str = r#""comment":{"self":"https://jira.example.com/jira/rest/api/2/issue/10045/comment/10601","id":"10601",
        "author":{"name":"dave","key":"JIRAUSER10400","displayName":"Dave D"},"body":"toner","updateAuthor":{"name":"dave","key":"JIRAUSER10400","displayName":"Dave D"},
        "created":"2026-11-25T10:00:00.000+0000","updated":"2026-11-25T10:05:00.000+0000"}"#;

    fn comment_shape(event: &str, ts: i64) -> JiraEvent {
        parse(format!(r#"{{"timestamp":{ts},"webhookEvent":"{event}",{COMMENT}}}"#).as_bytes())
            .unwrap()
            .unwrap()
    }

    fn issue_shape(event_type: &str, ts: i64, comment: bool) -> JiraEvent {
        let c = if comment {
            format!(",{COMMENT}")
        } else {
            String::new()
        };
        parse(
            format!(
                r#"{{"timestamp":{ts},"webhookEvent":"jira:issue_updated","issue_event_type_name":"{event_type}",
                "user":{{"name":"dave","key":"JIRAUSER10400","displayName":"Dave D"}},{ISSUE}{c}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn a_comment_event_without_its_issue_takes_the_issue_id_from_the_comments_url() {
        let e = comment_shape("comment_created", 1_000);
        assert_eq!((e.kind, e.issue_id), (EventKind::CommentCreated, 10045));
        assert!(e.needs_issue(), "the key and summary are fetched later");
        assert_eq!(e.actor.as_deref(), Some("Dave D"));
        assert_eq!(e.involved.actor_key.as_deref(), Some("JIRAUSER10400"));
        assert_eq!(
            issue_id_in_comment_url("https://j.example.com/rest/api/2/issue/7/comment/8"),
            Some(7)
        );
        for bad in [
            "https://j.example.com/rest/api/2/issue/ABC-1/comment/8",
            "https://j.example.com/rest/api/2/issue/7/worklog/8",
            "https://j.example.com/rest/api/2/issue/0/comment/8",
            "https://j.example.com/browse/ABC-1",
        ] {
            assert_eq!(issue_id_in_comment_url(bad), None, "{bad}");
        }
        let err = parse(br#"{"webhookEvent":"comment_created","comment":{"id":"1","body":"x"}}"#)
            .unwrap_err();
        assert_eq!(err, EventError::NoIssueNamed);
        assert!(err.to_string().contains("comment.self"), "{err}");
    }

    #[test]
    fn an_issue_update_with_a_comment_event_type_is_a_comment_event() {
        let made = issue_shape("issue_commented", 1_010, true);
        assert_eq!(made.kind, EventKind::CommentCreated);
        assert!(!made.needs_issue());
        assert_eq!(made.involved.project_key.as_deref(), Some("ABC"));
        assert_eq!(
            issue_shape("issue_comment_edited", 2_000, true).kind,
            EventKind::CommentUpdated
        );
        let gone = issue_shape("issue_comment_deleted", 3_000, false);
        assert_eq!(
            (gone.kind, gone.comment_id.as_deref()),
            (EventKind::CommentDeleted, None)
        );
        assert_eq!(
            gone.listed_comments.as_deref(),
            Some(&["10600".to_owned(), "10601".to_owned()][..])
        );
        assert_eq!(
            issue_shape("issue_assigned", 4_000, false).kind,
            EventKind::IssueUpdated
        );
    }

    #[test]
    fn an_update_from_jira_before_7_is_read_by_its_shape() {
        let old = |extra: &str| {
            parse(
                format!(r#"{{"timestamp":1,"webhookEvent":"jira:issue_updated",{ISSUE}{extra}}}"#)
                    .as_bytes(),
            )
            .unwrap()
            .unwrap()
            .kind
        };
        assert_eq!(
            old(&format!(",{COMMENT}")),
            EventKind::CommentUpdated,
            "updated after created"
        );
        let fresh = COMMENT.replace("10:05:00", "10:00:00");
        assert_eq!(old(&format!(",{fresh}")), EventKind::CommentCreated);
        assert_eq!(
            old(""),
            EventKind::CommentDeleted,
            "no change and no comment"
        );
        assert_eq!(
            old(r#","changelog":{"id":"1","items":[{"field":"assignee"}]}"#),
            EventKind::IssueUpdated
        );
    }

    #[test]
    fn both_shapes_of_one_comment_event_are_one_event_and_each_edit_another() {
        let a = comment_shape("comment_created", 1_000);
        let b = issue_shape("issue_commented", 1_010, true);
        assert_eq!(
            a.dedupe_key(),
            b.dedupe_key(),
            "Jira stamps the two shapes apart"
        );
        let edit = comment_shape("comment_updated", 2_000);
        assert_eq!(
            edit.dedupe_key(),
            issue_shape("issue_comment_edited", 2_000, true).dedupe_key()
        );
        assert_ne!(edit.dedupe_key(), a.dedupe_key());
        let later = parse(
            format!(
                r#"{{"timestamp":5000,"webhookEvent":"comment_updated",{}}}"#,
                COMMENT.replace("10:05:00", "10:09:00")
            )
            .as_bytes(),
        )
        .unwrap()
        .unwrap();
        assert_ne!(
            later.dedupe_key(),
            edit.dedupe_key(),
            "a second edit is another event"
        );
    }

    #[test]
    fn a_deletion_is_one_event_whichever_shape_names_it() {
        let carded = |deleted: bool, at: i64| {
            vec![
                CardedComment {
                    comment_id: "10600".into(),
                    deleted: false,
                    last_event_ms: 1,
                },
                CardedComment {
                    comment_id: "10601".into(),
                    deleted,
                    last_event_ms: at,
                },
                // deleted long ago: not the comment this deletion removed
                CardedComment {
                    comment_id: "10500".into(),
                    deleted: true,
                    last_event_ms: 1,
                },
            ]
        };
        let settled = |mut e: JiraEvent, c: &[CardedComment]| {
            e.settle_deletion(c);
            e
        };
        let named = settled(
            comment_shape("comment_deleted", 900_000),
            &carded(false, 2_000),
        );
        // the issue lists 10600 and 10601 here; a real deletion of 10601 lists only 10600
        let mut unnamed = issue_shape("issue_comment_deleted", 900_000, false);
        unnamed.listed_comments = Some(vec!["10600".into()]);
        for c in [carded(false, 2_000), carded(true, 900_000)] {
            let u = settled(unnamed.clone(), &c);
            assert_eq!(u.comment_id.as_deref(), Some("10601"), "{c:?}");
            assert_eq!(u.dedupe_key(), named.dedupe_key());
        }
        // the comment has no card anywhere: both are keyed by the deletion's time
        let named = settled(comment_shape("comment_deleted", 900_000), &[]);
        let u = settled(unnamed.clone(), &[]);
        assert_eq!(
            (u.comment_id.as_deref(), u.dedupe_key()),
            (None, named.dedupe_key())
        );
        // an incomplete list names nothing
        let mut partial = unnamed.clone();
        partial.listed_comments = None;
        assert_eq!(settled(partial, &carded(false, 2_000)).comment_id, None);
    }
}
