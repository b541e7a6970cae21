//! Comments as Jira Server/DC really sends them (fixtures in `fixtures/jira/`, shapes in its
//! README): `comment_*` without the issue, `jira:issue_updated` with `issue_comment*` event types
//! (the deletion without its comment), and Jira before 7 without event types. Each comment event
//! is one card per conversation (the linked chat, the assignee's personal chat, a channel
//! subscribed to comments), updated in place by the comment's later events, whichever shapes
//! the site sends and in whichever order they arrive.

use crate::support::cards::{ALICE_CHAT, CHANNEL, Cards, cards};
use crate::support::world::{ALICE_KEY, BOB_KEY};

/// A channel subscribed to ABC's issue updates only (not to comments).
const UPDATES_CHANNEL: &str = "19:updates@thread.tacv2";

/// The comment world, with ABC-1 as the fixtures describe it (Alice assigned and reporter), a
/// channel subscribed to ABC's comments and one subscribed to its updates only.
async fn dc() -> Cards {
    let c = cards().await;
    c.s.w.jira.add_issue(10045, "ABC-1", "Fix login", &[]);
    c.s.w
        .jira
        .set_roles(10045, Some(ALICE_KEY), Some(ALICE_KEY));
    c.subscribe(CHANNEL, "comments").await;
    c.subscribe(UPDATES_CHANNEL, "updated").await;
    c
}

const MADE: &str = "ABC-1: Bob B commented";
const EDITED: &str = "ABC-1: Bob B edited a comment";
const DELETED: &str = "ABC-1: Bob B deleted a comment";

/// The three conversations that hear of ABC-1's comments, with the text their cards start with.
fn audiences(c: &Cards) -> [(String, &'static str); 3] {
    [
        (c.chat.clone(), ""),
        (ALICE_CHAT.to_owned(), "You are the assignee · "),
        (CHANNEL.to_owned(), ""),
    ]
}

/// No conversation got a card.
fn nobody_told(c: &Cards) {
    for (conversation, _) in audiences(c) {
        let got = c.all_texts(&conversation);
        assert!(got.is_empty(), "{conversation}: {got:?}");
    }
}

/// Every conversation shows exactly one card, posted with `first` and updated to each of `then`.
fn one_card_each(c: &Cards, first: &str, then: &[&str]) {
    for (conversation, prefix) in audiences(c) {
        assert_eq!(
            c.posted(&conversation),
            [format!("{prefix}{first}")],
            "{conversation}"
        );
        let card = c.posted_ids(&conversation)[0].clone();
        let updates = c.updates(&conversation);
        let want: Vec<(String, String)> = then
            .iter()
            .map(|t| (card.clone(), format!("{prefix}{t}")))
            .collect();
        assert_eq!(updates, want, "{conversation}: updated in place, in order");
    }
    assert!(
        c.all_texts(UPDATES_CHANNEL).is_empty(),
        "a comment is not an issue update: {:?}",
        c.all_texts(UPDATES_CHANNEL)
    );
}

#[actix_web::test]
async fn a_comment_event_without_its_issue_gets_the_issue_from_jira_and_one_card_per_conversation()
{
    let c = dc().await;
    let (status, body) = c.fixture("comment_created").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["queued"], 0,
        "the linked chat's card waits for the issue"
    );
    one_card_each(&c, MADE, &[]);
    // the card names the issue as Jira told it, asked as the comment's author
    let received = c.s.bot.received_for(&c.chat);
    let card = received
        .iter()
        .find(|a| a["attachments"].is_array())
        .unwrap();
    assert_eq!(
        card["attachments"][0]["content"]["body"][0]["text"],
        "ABC-1 · Fix login"
    );
    assert!(
        c.s.w
            .jira
            .issue_reads()
            .contains(&(BOB_KEY.to_owned(), 10045)),
        "{:?}",
        c.s.w.jira.issue_reads()
    );
    // the same comment as `jira:issue_updated` adds nothing anywhere
    let (status, body) = c.fixture("issue_commented").await;
    assert_eq!((status, &body["queued"]), (200, &serde_json::json!(0)));
    one_card_each(&c, MADE, &[]);

    c.fixture("comment_updated").await;
    c.fixture("issue_comment_edited").await;
    one_card_each(&c, MADE, &[EDITED]);
    // the deletion, its issue-shaped half first (it names no comment: the comment list tells)
    c.fixture("issue_comment_deleted").await;
    c.fixture("comment_deleted").await;
    one_card_each(&c, MADE, &[EDITED, DELETED]);
    let deleted = &c.s.bot.updated_for(&c.chat)[1].1;
    assert!(
        !deleted.to_string().contains("Looks good"),
        "a deleted comment's text is not shown"
    );
}

#[actix_web::test]
async fn the_issue_updated_shape_alone_or_first_is_a_comment_event_with_its_card_updated_in_place()
{
    let c = dc().await;
    let (status, body) = c.fixture("issue_commented").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["queued"], 1,
        "the linked chat's card is queued at once"
    );
    c.fixture("comment_created").await;
    one_card_each(&c, MADE, &[]);
    c.fixture("issue_comment_edited").await;
    one_card_each(&c, MADE, &[EDITED]);
    c.fixture("comment_updated").await;
    one_card_each(&c, MADE, &[EDITED]);
    c.fixture("comment_deleted").await;
    c.fixture("issue_comment_deleted").await;
    one_card_each(&c, MADE, &[EDITED, DELETED]);
}

#[actix_web::test]
async fn comments_from_jira_before_7_without_event_types_are_comment_events() {
    let c = dc().await;
    c.fixture("old_issue_commented").await;
    one_card_each(&c, MADE, &[]);
    c.fixture("old_issue_comment_deleted").await;
    one_card_each(&c, MADE, &[DELETED]);
}

#[actix_web::test]
async fn a_deletion_of_a_comment_without_a_card_is_one_deleted_a_comment_card() {
    let c = dc().await;
    // the comment was made before the chat was linked: no card of it anywhere
    c.fixture("comment_deleted").await;
    c.fixture("issue_comment_deleted").await;
    for (conversation, prefix) in audiences(&c) {
        assert_eq!(
            c.all_texts(&conversation),
            [format!("{prefix}{DELETED}")],
            "{conversation}"
        );
    }
}

#[actix_web::test]
async fn a_comment_event_naming_no_issue_is_refused_and_queues_nothing() {
    let c = dc().await;
    let before = c.s.bot.received_for(&c.chat).len();
    let res = c
        .s
        .w
        .app
        .client
        .post(c.s.w.app.url(&c.hook))
        .json(&serde_json::json!({
            "timestamp": 1, "webhookEvent": "comment_created",
            "comment": {"id": "10600", "body": "x",
                        "self": "https://jira.example.com/rest/api/2/issue/ABC-1/comment/10600"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_payload");
    assert!(
        body["detail"].as_str().unwrap().contains("comment.self"),
        "{body}"
    );
    c.settle().await;
    assert_eq!(c.s.bot.received_for(&c.chat).len(), before);
    assert!(c.all_texts(ALICE_CHAT).is_empty() && c.all_texts(CHANNEL).is_empty());
}

#[actix_web::test]
async fn a_comment_on_an_issue_no_linked_user_may_see_tells_nobody() {
    let c = dc().await;
    c.s.w
        .jira
        .add_issue(10045, "ABC-1", "Fix login", &[ALICE_KEY, BOB_KEY]);
    let (status, _) = c.fixture("comment_created").await;
    assert_eq!(status, 200);
    nobody_told(&c);
}

#[actix_web::test]
async fn a_restricted_comment_without_its_issue_stays_restricted() {
    let c = dc().await;
    // readable by nobody linked (a role neither Alice nor Bob has)
    c.s.w.jira.add_comment(10045, "10610", Some(&[]));
    c.fixture("comment_created_restricted").await;
    nobody_told(&c);
}

#[actix_web::test]
async fn markdown_in_jira_text_shows_literally_on_the_card() {
    let c = dc().await;
    c.s.w
        .jira
        .add_issue(10045, "ABC-1", "[click](https://evil.example) *now*", &[]);
    let body = String::from_utf8(crate::support::webhook::fixture("comment_created"))
        .unwrap()
        .replace("\"Bob B\"", "\"**Bob** _B_\"");
    let res =
        c.s.w
            .app
            .client
            .post(c.s.w.app.url(&c.hook))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200);
    c.settle().await;
    let received = c.s.bot.received_for(&c.chat);
    let card = &received
        .iter()
        .find(|a| a["attachments"].is_array())
        .unwrap();
    let blocks = &card["attachments"][0]["content"]["body"];
    assert_eq!(
        blocks[0]["text"],
        r"ABC-1 · \[click\](https://evil.example) \*now\*"
    );
    assert_eq!(blocks[1]["text"], r"\*\*Bob\*\* \_B\_ commented");
    assert_eq!(
        (&card["textFormat"], &card["text"]),
        (
            &serde_json::json!("plain"),
            &serde_json::json!("ABC-1: **Bob** _B_ commented")
        )
    );
}
