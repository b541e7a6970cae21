//! Jira events reaching people and channels beyond the linked chats (issue 5): personal
//! notifications to assignee, reporter, watchers and mentioned users, each checked with Jira as
//! that user; channel subscriptions checked as their owner; the `notifications` and `subscribe`
//! commands; order kept per conversation.

use serde_json::{Value, json};

use crate::fakes::{self, bot::Scripted};
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::bot_claims;
use crate::support::wait::outbox_settled;
use crate::support::webhook::webhook_path;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_KEY, CAROL_OID};

const ALICE_TEAMS: &str = "29:alice";
const ALICE_CHAT: &str = "a:alice-personal";
const CHANNEL: &str = "19:general@thread.tacv2";

struct Fanout {
    s: BotWorld,
    hook: String,
}

/// Alice, Bob and Carol linked; ABC-1 visible to all but Carol; ABC-2 hidden from Alice.
/// Alice has the app installed personally (so her 1:1 chat is known); Bob does not.
async fn fanout() -> Fanout {
    let s = bot_world().await;
    s.w.jira
        .add_issue(10045, "ABC-1", "Printer on fire", &[CAROL_KEY]);
    s.w.jira
        .add_issue(10046, "ABC-2", "Secret plans", &[ALICE_KEY]);
    for (key, oid) in [
        (ALICE_KEY, ALICE_OID),
        (BOB_KEY, BOB_OID),
        (CAROL_KEY, CAROL_OID),
    ] {
        s.w.link(key, oid).await;
    }
    let hook = webhook_path(&s.w).await;
    let f = Fanout { s, hook };
    let res = f
        .activity(json!({
            "type": "installationUpdate", "action": "add", "id": "f:install",
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "conversation": {"id": ALICE_CHAT, "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
        }))
        .await;
    assert_eq!(res.status(), 200);
    f
}

impl Fanout {
    /// Posts an activity from Teams with a valid token (channel, service URL, bot filled in).
    async fn activity(&self, mut a: Value) -> reqwest::Response {
        let service_url = self.s.bot.service_url();
        a["channelId"] = json!("msteams");
        a["serviceUrl"] = json!(service_url);
        a["recipient"] = json!({"id": format!("28:{}", fakes::entra::CLIENT_ID)});
        let token = self
            .s
            .bot
            .signer
            .mint("bf-key-1", &bot_claims(&service_url));
        self.s.post(Some(token), &a).await
    }

    /// Alice types in a conversation (`personal` or `channel`).
    async fn alice_says(&self, conversation: &str, kind: &str, text: &str) {
        let res = self
            .activity(json!({
                "type": "message", "id": format!("m:{}", uuid::Uuid::new_v4()), "text": text,
                "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID, "name": "Alice"},
                "conversation": {"id": conversation, "conversationType": kind, "tenantId": fakes::entra::TENANT_ID},
            }))
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    async fn event(&self, body: Value) {
        let res = self
            .s
            .w
            .app
            .client
            .post(self.s.w.app.url(&self.hook))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// The texts of the cards (issue events) a conversation received, in order.
    fn cards(&self, conversation: &str) -> Vec<String> {
        self.texts(conversation, true)
    }

    /// The bot's plain answers in a conversation (the welcome message left out), in order.
    fn answers(&self, conversation: &str) -> Vec<String> {
        self.texts(conversation, false)
            .into_iter()
            .filter(|t| !t.starts_with("Hello!"))
            .collect()
    }

    fn texts(&self, conversation: &str, cards: bool) -> Vec<String> {
        self.s
            .bot
            .received_for(conversation)
            .iter()
            .filter(|a| a["attachments"].is_array() == cards)
            .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn settle(&self) {
        outbox_settled(&self.s.w.app.db.url, 15).await;
    }
}

/// A DC webhook body (PROTOCOLS.md §4.2) for an issue of project ABC.
fn issue_event(
    name: &str,
    issue: (u64, &str),
    actor: &str,
    assignee: &str,
    reporter: &str,
    ts: i64,
) -> Value {
    json!({
        "timestamp": ts,
        "webhookEvent": name,
        "issue_event_type_name": "issue_generic",
        "user": {"key": actor, "name": actor, "displayName": format!("User {actor}")},
        "issue": {"id": issue.0.to_string(), "key": issue.1, "fields": {
            "summary": format!("Summary of {}", issue.1),
            "project": {"key": "ABC", "id": "10000"},
            "assignee": {"key": assignee, "name": assignee},
            "reporter": {"key": reporter, "name": reporter},
        }},
        "changelog": {"id": ts.to_string(), "items": [{"field": "priority"}]},
    })
}

#[actix_web::test]
async fn people_are_told_in_their_own_chat_only_what_jira_lets_them_see() {
    let f = fanout().await;
    // Bob watches ABC-1; Carol reported it but may not see it; Dave (not linked) changed it
    f.s.w.jira.add_watchers(10045, &[BOB_KEY]);
    f.event(issue_event(
        "jira:issue_updated",
        (10045, "ABC-1"),
        "dave",
        ALICE_KEY,
        CAROL_KEY,
        1_000,
    ))
    .await;
    f.settle().await;
    let alice = f.cards(ALICE_CHAT);
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert!(alice[0].starts_with("You are the assignee"), "{alice:?}");
    // Bob never installed the app personally: the 1:1 conversation is created by object id
    let created = f.s.bot.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["members"][0]["id"], BOB_OID);
    assert_eq!(
        created[0]["channelData"]["tenant"]["id"],
        fakes::entra::TENANT_ID
    );
    let bob = f.cards(&format!("a:personal-{BOB_OID}"));
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert!(bob[0].starts_with("You are watching"), "{bob:?}");
    assert!(f.cards(&format!("a:personal-{CAROL_OID}")).is_empty());

    // nobody hears of their own change
    f.event(issue_event(
        "jira:issue_updated",
        (10045, "ABC-1"),
        ALICE_KEY,
        ALICE_KEY,
        CAROL_KEY,
        2_000,
    ))
    .await;
    f.settle().await;
    assert_eq!(f.cards(ALICE_CHAT).len(), 1);
    assert_eq!(f.cards(&format!("a:personal-{BOB_OID}")).len(), 2);

    // Alice turns assignee notifications off: the next change reaches Bob only
    f.alice_says(ALICE_CHAT, "personal", "notifications off assignee")
        .await;
    f.settle().await;
    let answers = f.answers(ALICE_CHAT);
    assert!(answers[0].contains("assignee: **off**"), "{answers:?}");
    assert!(answers[0].contains("watcher: **on**"), "{answers:?}");
    f.event(issue_event(
        "jira:issue_updated",
        (10045, "ABC-1"),
        "dave",
        ALICE_KEY,
        CAROL_KEY,
        3_000,
    ))
    .await;
    f.settle().await;
    assert_eq!(f.cards(ALICE_CHAT).len(), 1, "{:?}", f.cards(ALICE_CHAT));
    assert_eq!(f.cards(&format!("a:personal-{BOB_OID}")).len(), 3);
    // a kind that does not exist is explained, not stored
    f.alice_says(ALICE_CHAT, "personal", "notifications off everything")
        .await;
    f.settle().await;
    let answers = f.answers(ALICE_CHAT);
    assert!(answers[1].starts_with("Usage"), "{answers:?}");
}

#[actix_web::test]
async fn a_restricted_comment_reaches_only_those_who_may_read_it() {
    let f = fanout().await;
    // the comment is limited to a role Alice has; it mentions Bob and Carol
    f.s.w.jira.add_comment(10045, "10600", Some(&[ALICE_KEY]));
    let body = json!({
        "timestamp": 5_000,
        "webhookEvent": "comment_created",
        "comment": {
            "id": "10600",
            "author": {"key": "dave", "name": "dave"},
            "updateAuthor": {"key": "dave", "name": "dave", "displayName": "Dave"},
            "body": "[~bob] [~carol] have a look",
            "visibility": {"type": "role", "value": "Developers"},
        },
        "issue": {"id": "10045", "key": "ABC-1", "fields": {
            "summary": "Printer on fire", "project": {"key": "ABC"},
            "assignee": {"key": ALICE_KEY}, "reporter": {"key": "dave"},
        }},
    });
    f.event(body.clone()).await;
    f.settle().await;
    assert_eq!(f.cards(ALICE_CHAT).len(), 1);
    assert!(f.s.bot.created.lock().unwrap().is_empty());
    // the same comment open to everyone reaches Bob as a mention; Carol still cannot see the issue
    f.s.w.jira.add_comment(10045, "10601", None);
    let mut open = body;
    open["comment"]["id"] = json!("10601");
    open["timestamp"] = json!(6_000);
    open["comment"]
        .as_object_mut()
        .unwrap()
        .remove("visibility");
    f.event(open).await;
    f.settle().await;
    let bob = f.cards(&format!("a:personal-{BOB_OID}"));
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert!(bob[0].starts_with("You were mentioned"), "{bob:?}");
    assert!(f.cards(&format!("a:personal-{CAROL_OID}")).is_empty());
}

#[actix_web::test]
async fn a_subscribed_channel_gets_the_events_its_owner_may_see() {
    let f = fanout().await;
    let res = f
        .activity(json!({
            "type": "conversationUpdate", "id": "f:team",
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "membersAdded": [{"id": format!("28:{}", fakes::entra::CLIENT_ID)}],
            "conversation": {"id": CHANNEL, "conversationType": "channel", "isGroup": true, "tenantId": fakes::entra::TENANT_ID},
            "channelData": {"eventType": "teamMemberAdded", "team": {"id": CHANNEL}, "tenant": {"id": fakes::entra::TENANT_ID}},
        }))
        .await;
    assert_eq!(res.status(), 200);
    let thread = format!("{CHANNEL};messageid=1");
    // bad input is explained and stores nothing
    f.alice_says(&thread, "channel", "<at>Jira</at> subscribe ABC exploded")
        .await;
    f.alice_says(&thread, "channel", "<at>Jira</at> subscribe NOPE")
        .await;
    // subscribing is for channels
    f.alice_says(ALICE_CHAT, "personal", "subscribe ABC").await;
    f.alice_says(
        &thread,
        "channel",
        "<at>Jira</at> subscribe abc created,updated",
    )
    .await;
    f.settle().await;
    let answers = f.answers(&thread);
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(answers[0].contains("not an event"), "{answers:?}");
    assert!(answers[1].contains("No Jira project NOPE"), "{answers:?}");
    assert!(answers[2].starts_with("Subscribed"), "{answers:?}");
    assert!(
        answers[2].contains("issue_created, issue_updated"),
        "{answers:?}"
    );
    assert!(f.answers(ALICE_CHAT)[0].contains("for channels"));

    // ABC-1 reaches the channel; ABC-2 (hidden from Alice, the owner) does not; nor a comment
    let mut update = issue_event(
        "jira:issue_updated",
        (10045, "ABC-1"),
        "dave",
        "dave",
        "dave",
        1,
    );
    f.event(update.clone()).await;
    f.event(issue_event(
        "jira:issue_updated",
        (10046, "ABC-2"),
        "dave",
        "dave",
        "dave",
        2,
    ))
    .await;
    f.s.w.jira.add_comment(10045, "10700", None);
    f.event(json!({
        "timestamp": 3, "webhookEvent": "comment_created",
        "comment": {"id": "10700", "updateAuthor": {"key": "dave", "displayName": "Dave"}, "body": "hi"},
        "issue": {"id": "10045", "key": "ABC-1", "fields": {"project": {"key": "ABC"}}},
    }))
    .await;
    f.settle().await;
    let channel = f.cards(CHANNEL);
    assert_eq!(channel.len(), 1, "{channel:?}");
    assert!(channel[0].starts_with("ABC-1"), "{channel:?}");

    // once unsubscribed, nothing more
    f.alice_says(&thread, "channel", "<at>Jira</at> unsubscribe ABC")
        .await;
    f.settle().await;
    assert!(
        f.answers(&thread)
            .last()
            .unwrap()
            .starts_with("Unsubscribed")
    );
    update["timestamp"] = json!(4);
    update["changelog"]["id"] = json!("4");
    f.event(update).await;
    f.settle().await;
    assert_eq!(f.cards(CHANNEL).len(), 1);
}

#[actix_web::test]
async fn a_conversation_gets_its_cards_in_order_even_when_one_is_retried() {
    let f = fanout().await;
    // the first send is throttled for a second; the second event must still come after it
    f.s.bot.script(&[Scripted::Throttled(1)]);
    for ts in [10_000, 20_000] {
        let mut e = issue_event(
            "jira:issue_updated",
            (10045, "ABC-1"),
            "dave",
            ALICE_KEY,
            "dave",
            ts,
        );
        e["changelog"]["items"] = json!([{"field": format!("field{ts}")}]);
        f.event(e).await;
    }
    f.settle().await;
    let got: Vec<String> =
        f.s.bot
            .received_for(ALICE_CHAT)
            .iter()
            .filter(|a| a["attachments"].is_array())
            .map(|a| a["attachments"][0]["content"].to_string())
            .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].contains("field10000"), "{got:?}");
    assert!(got[1].contains("field20000"), "{got:?}");
}

#[actix_web::test]
async fn a_subscriptions_jql_is_checked_when_saved_and_filters_as_its_owner() {
    let f = fanout().await;
    f.s.w.jira.add_issue(10047, "ABC-3", "Coffee machine", &[]);
    let thread = format!("{CHANNEL};messageid=7");
    f.alice_says(
        &thread,
        "channel",
        "<at>Jira</at> subscribe ABC where bogus ~~ 1",
    )
    .await;
    f.alice_says(
        &thread,
        "channel",
        "<at>Jira</at> subscribe ABC updated where summary ~ \"fire\"",
    )
    .await;
    f.settle().await;
    let answers = f.answers(&thread);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers[0].starts_with("Jira refused the JQL"),
        "{answers:?}"
    );
    assert!(answers[1].starts_with("Subscribed"), "{answers:?}");
    assert!(
        answers[1].contains("where summary ~ \"fire\""),
        "{answers:?}"
    );
    // ABC-1 ("Printer on fire") matches; ABC-3 ("Coffee machine") does not
    f.event(issue_event(
        "jira:issue_updated",
        (10047, "ABC-3"),
        "dave",
        "dave",
        "dave",
        1,
    ))
    .await;
    f.event(issue_event(
        "jira:issue_updated",
        (10045, "ABC-1"),
        "dave",
        "dave",
        "dave",
        2,
    ))
    .await;
    f.settle().await;
    let channel = f.cards(CHANNEL);
    assert_eq!(channel.len(), 1, "{channel:?}");
    assert!(channel[0].starts_with("ABC-1"), "{channel:?}");
}
