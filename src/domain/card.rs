//! The Adaptive Card of an issue event (Bot Framework form: `content` is an object): issue key
//! and summary, what happened and what changed, who did it, a link to the issue and (where the
//! caller offers it) a *Comment* button that opens the comment dialog. Text from
//! Jira (summary, display names, field names) is shown literally: TextBlocks read a markdown
//! subset, so its markdown characters are escaped ([`jira_card::text`]), and the activity's own
//! text is sent as plain text.

use serde_json::{Value, json};

use super::jira_card::{text, with_comment_action};
use super::jira_event::{EventKind, JiraEvent};

/// Longest summary shown on a card.
const SUMMARY_CHARS: usize = 200;

fn what(e: &JiraEvent) -> &'static str {
    match e.kind {
        EventKind::IssueCreated => "created the issue",
        EventKind::IssueUpdated => "updated the issue",
        EventKind::IssueDeleted => "deleted the issue",
        EventKind::CommentCreated => "commented",
        EventKind::CommentUpdated => "edited a comment",
        EventKind::CommentDeleted => "deleted a comment",
    }
}

/// The message activity carrying the card; `compact` drops the changed-field list (for Teams'
/// size limit).
pub fn issue_activity(e: &JiraEvent, jira_base_url: &str, compact: bool) -> Value {
    let url = format!(
        "{}/browse/{}",
        jira_base_url.trim_end_matches('/'),
        e.issue_key
    );
    let summary = text(e.summary.as_deref().unwrap_or(""), SUMMARY_CHARS);
    let plain_who = e.actor.as_deref().unwrap_or("Someone");
    let who = text(plain_who, 255);
    let mut body = vec![
        json!({"type": "TextBlock", "text": format!("{} · {}", e.issue_key, summary), "weight": "Bolder", "wrap": true}),
        json!({"type": "TextBlock", "text": format!("{who} {}", what(e)), "wrap": true, "isSubtle": true}),
    ];
    if !compact && !e.changed_fields.is_empty() {
        let changed: Vec<String> = e
            .changed_fields
            .iter()
            .take(20)
            .map(|f| text(f, 100))
            .collect();
        body.push(json!({"type": "TextBlock", "text": format!("Changed: {}", changed.join(", ")), "wrap": true}));
    }
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    });
    if e.kind != EventKind::IssueDeleted {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open in Jira", "url": url}]);
    }
    json!({
        "type": "message",
        "textFormat": "plain",
        "text": format!("{}: {plain_who} {}", e.issue_key, what(e)),
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    })
}

/// `activity` (from [`issue_activity`]) with a *Comment* button on its card, which opens the
/// comment dialog for the event's issue of the instance `instance` (public id); a deleted
/// issue gets none.
pub fn offer_comment(mut activity: Value, e: &JiraEvent, instance: &str) -> Value {
    if e.kind == EventKind::IssueDeleted {
        return activity;
    }
    let card = &mut activity["attachments"][0]["content"];
    if card.is_object() {
        *card = with_comment_action(card.take(), instance, &e.issue_id.to_string());
    }
    activity
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> JiraEvent {
        JiraEvent {
            kind: EventKind::IssueUpdated,
            event_type: Some("issue_generic".into()),
            timestamp_ms: 1,
            issue_id: 10045,
            issue_key: "ABC-1".into(),
            summary: Some("Printer on fire".into()),
            actor: Some("Alice Adams".into()),
            changed_fields: vec!["status".into(), "assignee".into()],
            changelog_id: Some("1".into()),
            comment_id: None,
            comment_version: None,
            listed_comments: None,
            involved: Default::default(),
        }
    }

    #[test]
    fn a_card_names_the_issue_the_change_the_person_and_links_to_jira() {
        let a = issue_activity(&event(), "https://jira.example.com/jira/", false);
        let card = &a["attachments"][0]["content"];
        assert!(
            card.is_object(),
            "Bot Framework cards are objects, not strings"
        );
        assert_eq!(card["body"][0]["text"], "ABC-1 · Printer on fire");
        assert_eq!(card["body"][1]["text"], "Alice Adams updated the issue");
        assert_eq!(card["body"][2]["text"], "Changed: status, assignee");
        assert_eq!(
            card["actions"][0]["url"],
            "https://jira.example.com/jira/browse/ABC-1"
        );
        let compact = issue_activity(&event(), "https://jira.example.com", true);
        assert_eq!(
            compact["attachments"][0]["content"]["body"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_card_offers_a_comment_dialog_unless_the_issue_is_gone() {
        let a = offer_comment(
            issue_activity(&event(), "https://jira.example.com", false),
            &event(),
            "tHXLY2",
        );
        let actions = &a["attachments"][0]["content"]["actions"];
        assert_eq!(actions[0]["type"], "Action.OpenUrl");
        assert_eq!(
            actions[1]["data"],
            json!({"msteams": {"type": "task/fetch"}, "action": "commentOnIssue",
                   "instance": "tHXLY2", "issue": "10045"})
        );
        let mut gone = event();
        gone.kind = EventKind::IssueDeleted;
        let a = offer_comment(
            issue_activity(&gone, "https://j.example", false),
            &gone,
            "x",
        );
        assert!(a["attachments"][0]["content"].get("actions").is_none());
    }

    #[test]
    fn text_from_jira_shows_literally_and_makes_no_link_or_formatting() {
        let mut e = event();
        e.summary = Some("[click](https://evil.example) *x* `y` <b>z</b> # h".into());
        e.actor = Some("- _Mallory_".into());
        e.changed_fields = vec!["**status**".into(), "1. rank".into()];
        let a = issue_activity(&e, "https://jira.example.com", false);
        let body = &a["attachments"][0]["content"]["body"];
        assert_eq!(
            body[0]["text"],
            r"ABC-1 · \[click\](https://evil.example) \*x\* \`y\` \<b\>z\</b\> \# h"
        );
        assert_eq!(body[1]["text"], r"\- \_Mallory\_ updated the issue");
        assert_eq!(body[2]["text"], r"Changed: \*\*status\*\*, 1\. rank");
        // the activity's own text is plain text: shown as it is, unescaped
        assert_eq!(a["textFormat"], "plain");
        assert_eq!(a["text"], "ABC-1: - _Mallory_ updated the issue");
        // the link on the card goes to Jira, never to a URL from the summary
        let card = a["attachments"][0]["content"].to_string();
        assert_eq!(card.matches("https://evil.example").count(), 1);
        assert_eq!(
            a["attachments"][0]["content"]["actions"][0]["url"],
            "https://jira.example.com/browse/ABC-1"
        );
    }
}
