//! The world of the comment-card tests: Alice and Bob linked, ABC-1 linked to a chat of theirs
//! with the bot installed, Alice's personal chat with the app, and what the Bot Connector double
//! received in each conversation (cards posted, cards updated in place).

use serde_json::{Value, json};

use crate::fakes;
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::bot_claims;
use crate::support::wait::outbox_settled;
use crate::support::world::create_chat_with_bob;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID};

pub const ALICE_TEAMS: &str = "29:alice";
pub const ALICE_CHAT: &str = "a:alice-personal";
pub const CHANNEL: &str = "19:general@thread.tacv2";

pub struct Cards {
    pub s: BotWorld,
    pub hook: String,
    /// The Teams chat linked to ABC-1, with the bot installed.
    pub chat: String,
}

/// Alice and Bob linked; ABC-1 linked to a chat of theirs where the bot is installed; Alice has
/// the app installed personally too.
pub async fn cards() -> Cards {
    let s = bot_world().await;
    s.w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    s.w.link(ALICE_KEY, ALICE_OID).await;
    s.w.link(BOB_KEY, BOB_OID).await;
    let chat = create_chat_with_bob(&s.w).await;
    let hook = crate::support::webhook::webhook_path(&s.w).await;
    let c = Cards { s, hook, chat };
    for (conversation, kind) in [(c.chat.as_str(), "groupChat"), (ALICE_CHAT, "personal")] {
        c.activity(json!({
            "type": "installationUpdate", "action": "add", "id": format!("f:{conversation}"),
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "conversation": {"id": conversation, "conversationType": kind, "tenantId": fakes::entra::TENANT_ID},
        }))
        .await;
    }
    c.settle().await;
    c
}

impl Cards {
    /// Posts an activity from Teams with a valid token.
    pub async fn activity(&self, mut a: Value) {
        let service_url = self.s.bot.service_url();
        a["channelId"] = json!("msteams");
        a["serviceUrl"] = json!(service_url);
        a["recipient"] = json!({"id": format!("28:{}", fakes::entra::CLIENT_ID)});
        let token = self
            .s
            .bot
            .signer
            .mint("bf-key-1", &bot_claims(&service_url));
        let res = self.s.post(Some(token), &a).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    /// Jira sends a comment event of comment 10600 on ABC-1 (Alice is the assignee, Dave acts).
    pub async fn comment(&self, name: &str, ts: i64) {
        self.comment_with_assignee(name, ts, ALICE_KEY).await;
    }

    /// As [`Cards::comment`], with another assignee.
    pub async fn comment_with_assignee(&self, name: &str, ts: i64, assignee: &str) {
        let body = json!({
            "timestamp": ts,
            "webhookEvent": name,
            "comment": {
                "id": "10600",
                "author": {"key": "dave", "name": "dave"},
                "updateAuthor": {"key": "dave", "name": "dave", "displayName": "Dave"},
                "body": "the toner is the culprit",
            },
            "issue": {"id": "10045", "key": "ABC-1", "fields": {
                "summary": "Printer on fire", "project": {"key": "ABC"},
                "assignee": {"key": assignee}, "reporter": {"key": "dave"},
            }},
        });
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
        self.settle().await;
    }

    /// The texts of the cards posted (not updated) to a conversation, in order.
    pub fn posted(&self, conversation: &str) -> Vec<String> {
        self.s
            .bot
            .received_for(conversation)
            .iter()
            .filter(|a| a["attachments"].is_array())
            .map(|a| a["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The ids of the cards posted to a conversation (the welcome message left out).
    pub fn posted_ids(&self, conversation: &str) -> Vec<String> {
        let received = self.s.bot.received_for(conversation);
        self.s
            .bot
            .posted_ids_for(conversation)
            .into_iter()
            .zip(received)
            .filter(|(_, a)| a["attachments"].is_array())
            .map(|(id, _)| id)
            .collect()
    }

    /// The updates of a conversation: activity id and the card's text.
    pub fn updates(&self, conversation: &str) -> Vec<(String, String)> {
        self.s
            .bot
            .updated_for(conversation)
            .into_iter()
            .map(|(id, a)| (id, a["text"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Status of the chat's membership row.
    pub fn membership_status(&self, conversation: &str) -> String {
        use diesel::prelude::*;
        use jira_teams_bridge::db::schema::bot_membership as b;
        let mut conn = self.s.w.conn();
        b::table
            .filter(b::conversation_id.eq(conversation))
            .select(b::status)
            .first(&mut conn)
            .unwrap()
    }

    pub async fn settle(&self) {
        outbox_settled(&self.s.w.app.db.url, 20).await;
    }
}

impl Cards {
    /// Posts a Jira webhook fixture (`tests/integration/fixtures/jira/<name>.json`) and waits
    /// for the outbox to settle; returns the answer's status and body.
    pub async fn fixture(&self, name: &str) -> (u16, Value) {
        let res = self
            .s
            .w
            .app
            .client
            .post(self.s.w.app.url(&self.hook))
            .header("Content-Type", "application/json")
            .body(crate::support::webhook::fixture(name))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        self.settle().await;
        (status, body)
    }

    /// Adds the bot to a team whose general channel is `channel` and subscribes the channel to
    /// `words` of project ABC, as Alice.
    pub async fn subscribe(&self, channel: &str, words: &str) {
        self.activity(json!({
            "type": "conversationUpdate", "id": format!("f:team:{channel}"),
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "membersAdded": [{"id": format!("28:{}", fakes::entra::CLIENT_ID)}],
            "conversation": {"id": channel, "conversationType": "channel", "isGroup": true, "tenantId": fakes::entra::TENANT_ID},
            "channelData": {"eventType": "teamMemberAdded", "team": {"id": channel}, "tenant": {"id": fakes::entra::TENANT_ID}},
        }))
        .await;
        self.activity(json!({
            "type": "message", "id": format!("m:subscribe:{channel}"), "text": format!("<at>Jira</at> subscribe ABC {words}"),
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID, "name": "Alice"},
            "conversation": {"id": format!("{channel};messageid=1"), "conversationType": "channel", "tenantId": fakes::entra::TENANT_ID},
        }))
        .await;
        self.settle().await;
    }

    /// Every card (posted or updated) that reached a conversation, as its text.
    pub fn all_texts(&self, conversation: &str) -> Vec<String> {
        let mut all = self.posted(conversation);
        all.extend(self.updates(conversation).into_iter().map(|(_, t)| t));
        all
    }
}
