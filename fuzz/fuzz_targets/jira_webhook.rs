//! Fuzz target `jira_webhook`: a `/webhooks/jira/{id}` body as `domain::jira_event::parse` reads it
//! (the handler parses the body with exactly this after the signature check), and the card the
//! notifier builds from the event.
//!
//! Checked besides "never panics": an accepted event keeps its documented bounds (positive issue
//! id, key of 1–255 bytes or, for a comment event naming its issue only by id, empty; clipped
//! texts, at most 50 changed fields and 20 distinct mentions); it survives the JSON round trip
//! through the outbox unchanged (but for the comment list read at intake, which is not stored);
//! equal bodies give equal dedupe keys; the card's link points under the instance's base URL.
#![no_main]

use jira_teams_bridge::domain::card;
use jira_teams_bridge::domain::jira_event::{self, JiraEvent};
use libfuzzer_sys::fuzz_target;

const BASE: &str = "https://jira.example.com/jira";

fn check(e: &JiraEvent) {
    let chars = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    assert!(e.issue_id > 0);
    assert!(e.issue_key.len() <= 255);
    assert!(
        !e.needs_issue() || e.kind.is_comment(),
        "only comment events lack their issue"
    );
    assert!(chars(&e.comment_version) <= 40);
    assert!(chars(&e.summary) <= 255 && chars(&e.actor) <= 255 && chars(&e.event_type) <= 100);
    assert!(e.changed_fields.len() <= 50);
    assert!(e.changed_fields.iter().all(|f| f.chars().count() <= 100));
    let names = &e.involved.mentioned_names;
    assert!(names.len() <= 20);
    for (i, n) in names.iter().enumerate() {
        assert!(!n.is_empty() && n.len() <= 255 && !n.contains(['[', '\n']));
        assert!(!names[..i].contains(n), "mention {n} repeated");
    }
    // the outbox stores the event as JSON and the notifier reads it back
    let stored = serde_json::to_value(e).expect("an event serializes");
    let back: JiraEvent = serde_json::from_value(stored).expect("a stored event reads back");
    let mut kept = e.clone();
    kept.listed_comments = None;
    assert_eq!(back, kept);
    for compact in [false, true] {
        let activity = card::issue_activity(e, BASE, compact);
        let url = activity.pointer("/attachments/0/content/actions/0/url");
        if let Some(url) = url.and_then(|u| u.as_str()) {
            assert!(url.starts_with(&format!("{BASE}/browse/")), "{url}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(event)) = jira_event::parse(data) {
        check(&event);
        let again = jira_event::parse(data)
            .expect("parsed once")
            .expect("relayed once");
        assert_eq!(again.dedupe_key(), event.dedupe_key());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(jira_event::mentions(text).len() <= 20);
    }
});
