//! Users told when their link lapses (issue 16, point 6): when a Microsoft or Jira sign-in
//! becomes "needs sign-in again", the user gets one message in their 1:1 chat with the bot with a
//! sign-in card, once per lapse however many notifications are skipped and however many
//! deliveries find out at once; each channel their subscriptions fed is told once; a user
//! without a known 1:1 chat is not retried for ever; signing in again (through the card) resumes
//! notifications and re-arms the message for the next lapse.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes;
use crate::support::app::between;
use crate::support::bot::{BotWorld, bot_world_with};
use crate::support::jwt::bot_claims;
use crate::support::wait::{eventually, outbox_settled};
use crate::support::webhook::webhook_path;
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, ISSUE, browser, expire_microsoft_token, follow,
};

const ALICE_TEAMS: &str = "29:alice-lapse";
const ALICE_CHAT: &str = "a:alice-lapse-personal";
const CHANNEL: &str = "19:lapse@thread.tacv2";

struct Lapse {
    s: BotWorld,
    hook: String,
}

/// Alice and Bob linked, ABC-1 in Jira; Alice has the app installed personally (her 1:1 chat
/// is known), Bob does not.
async fn lapse_world() -> Lapse {
    let s = bot_world_with(|s| s.outbox.backoff_base_ms = 200).await;
    s.w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    for (key, oid) in [(ALICE_KEY, ALICE_OID), (BOB_KEY, BOB_OID)] {
        assert_eq!(s.w.link(key, oid).await.0, 200);
    }
    let hook = webhook_path(&s.w).await;
    let l = Lapse { s, hook };
    let res = l
        .activity(json!({
            "type": "installationUpdate", "action": "add", "id": "l:install",
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "conversation": {"id": ALICE_CHAT, "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
        }))
        .await;
    assert_eq!(res.status(), 200);
    l.settle().await;
    l
}

impl Lapse {
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

    /// A Jira event about ABC-1, assigned to Alice, changed by Dave (not linked).
    async fn event(&self, ts: i64) {
        self.event_on((ISSUE, "ABC-1"), ts).await;
    }

    /// A Jira event about `issue`, assigned to Alice, changed by Dave (not linked).
    async fn event_on(&self, issue: (u64, &str), ts: i64) {
        let body = json!({
            "timestamp": ts, "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"key": "dave", "name": "dave", "displayName": "Dave"},
            "issue": {"id": issue.0.to_string(), "key": issue.1, "fields": {
                "summary": "Printer on fire", "project": {"key": "ABC", "id": "10000"},
                "assignee": {"key": ALICE_KEY, "name": "alice"},
                "reporter": {"key": "dave", "name": "dave"},
            }},
            "changelog": {"id": ts.to_string(), "items": [{"field": "priority"}]},
        });
        let app = &self.s.w.app;
        let res = app
            .client
            .post(app.url(&self.hook))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    async fn settle(&self) {
        outbox_settled(&self.s.w.app.db.url, 20).await;
    }

    /// The "your link lapsed" messages a conversation received, in order.
    fn lapse_messages(&self, conversation: &str) -> Vec<Value> {
        self.s
            .bot
            .received_for(conversation)
            .into_iter()
            .filter(|a| a["text"].as_str().is_some_and(|t| t.contains("has lapsed")))
            .collect()
    }

    /// Issue cards (notifications) a conversation received.
    fn cards(&self, conversation: &str) -> usize {
        self.s
            .bot
            .received_for(conversation)
            .iter()
            .filter(|a| a["text"].as_str().is_some_and(|t| t.contains("ABC-")))
            .count()
    }

    /// Alice's Jira refresh will be refused: her stored token is expired and Jira revoked
    /// her grant.
    fn refuse_alice_jira_refresh(&self) {
        diesel::sql_query(
            "UPDATE access_token SET expires_at = now() - interval '1 minute' WHERE kind = 'jira_user'",
        )
        .execute(&mut self.s.w.conn())
        .unwrap();
        self.s.w.jira.revoke_user(ALICE_KEY);
    }

    fn status(&self, key: &str) -> String {
        use jira_teams_bridge::db::schema::user_mapping as um;
        um::table
            .filter(um::jira_user_key.eq(key))
            .select(um::status)
            .first(&mut self.s.w.conn())
            .unwrap()
    }

    /// (status, attempts, last_error) of the outbox items of `kind`.
    fn items(&self, kind: &str) -> Vec<(String, i32, Option<String>)> {
        use jira_teams_bridge::db::schema::outbox;
        outbox::table
            .filter(outbox::kind.eq(kind))
            .order(outbox::id)
            .select((outbox::status, outbox::attempts, outbox::last_error))
            .load(&mut self.s.w.conn())
            .unwrap()
    }

    /// Signs in again through the card of lapse message `m`: the browser follows its URL as
    /// Alice, and Alice types the code the page shows back into her 1:1 chat.
    async fn sign_in_again_with(&self, m: &Value) {
        let url = card_url(m);
        self.s.w.entra.sign_in_as(ALICE_OID);
        self.s.w.jira.sign_in_as(ALICE_KEY);
        let (res, _) = follow(&browser(), &url).await;
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let code = between(&page, "<strong id=\"verification-code\">", "</strong>");
        self.alice_says(ALICE_CHAT, "personal", &code).await;
        eventually("the link to work again", 10, || {
            self.status(ALICE_KEY) == "linked"
        })
        .await;
    }
}

/// The sign-in URL of a lapse message's card; asserts the card is there.
fn card_url(m: &Value) -> String {
    let content = &m["attachments"][0]["content"];
    assert_eq!(content["type"], "AdaptiveCard", "{m}");
    let action = &content["actions"][0];
    assert_eq!(action["type"], "Action.OpenUrl", "{m}");
    let url = action["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/auth/teams/start?t="), "{url}");
    assert_eq!(
        m["attachments"][1]["content"]["buttons"][0]["value"],
        url.as_str()
    );
    url
}

fn report(test: &str, sent: usize, caused: usize) {
    eprintln!("lapse messages sent vs lapses caused ({test}): {sent} vs {caused}");
}

#[actix_web::test]
async fn a_refused_microsoft_refresh_tells_the_user_once_with_a_sign_in_card() {
    let l = lapse_world().await;
    l.s.w.entra.revoke_user(ALICE_OID);
    expire_microsoft_token(&l.s.w);
    // Alice starts a chat from Jira: her Microsoft token cannot be renewed
    for _ in 0..3 {
        let (status, body) = crate::support::world::api(
            &l.s.w,
            "POST",
            &format!("/api/v1/issues/{ISSUE}/chats/create"),
            ALICE_KEY,
            Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("needs_sign_in"))
        );
    }
    // notifications for her are skipped meanwhile, silently
    for ts in [1_000, 2_000, 3_000] {
        l.event(ts).await;
    }
    l.settle().await;
    let got = l.lapse_messages(ALICE_CHAT);
    report("microsoft refresh refused", got.len(), 1);
    assert_eq!(got.len(), 1, "{got:?}");
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.contains("**Microsoft** sign-in"), "{text}");
    let host = l.s.w.jira.base.trim_start_matches("http://").to_owned();
    assert!(text.contains(&host), "{text} names {host}");
    assert!(text.contains("can't send you Jira notifications"), "{text}");
    card_url(&got[0]);
    assert_eq!(l.cards(ALICE_CHAT), 0, "no notifications while lapsed");
    assert_eq!(l.status(ALICE_KEY), "needs_reauth");
}

#[actix_web::test]
async fn a_refused_jira_refresh_tells_the_user_once_however_many_notifications_are_skipped() {
    let l = lapse_world().await;
    l.refuse_alice_jira_refresh();
    for ts in [1_000, 2_000, 3_000, 4_000] {
        l.event(ts).await;
    }
    l.settle().await;
    let got = l.lapse_messages(ALICE_CHAT);
    report(
        "jira refresh refused, 4 notifications skipped",
        got.len(),
        1,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.contains("**Jira** sign-in on"), "{text}");
    assert!(text.contains("/jira"), "the instance is named: {text}");
    card_url(&got[0]);
    assert_eq!(l.cards(ALICE_CHAT), 0);
    assert_eq!(l.items("link_lapsed").len(), 1, "queued once");
}

#[actix_web::test]
async fn signing_in_again_through_the_card_resumes_notifications_and_the_next_lapse_is_told_again()
{
    let l = lapse_world().await;
    l.refuse_alice_jira_refresh();
    l.event(1_000).await;
    l.settle().await;
    let first = l.lapse_messages(ALICE_CHAT);
    assert_eq!(first.len(), 1, "{first:?}");
    l.sign_in_again_with(&first[0]).await;
    // notifications resume
    l.event(2_000).await;
    l.settle().await;
    assert_eq!(
        l.cards(ALICE_CHAT),
        1,
        "{:?}",
        l.s.bot.received_for(ALICE_CHAT)
    );
    assert_eq!(l.lapse_messages(ALICE_CHAT).len(), 1);
    // a second lapse: told again, once
    l.refuse_alice_jira_refresh();
    for ts in [3_000, 4_000] {
        l.event(ts).await;
    }
    l.settle().await;
    let got = l.lapse_messages(ALICE_CHAT);
    report("lapse, sign in again, lapse", got.len(), 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_ne!(
        card_url(&got[0]),
        card_url(&got[1]),
        "each card has its own URL"
    );
    assert_eq!(l.cards(ALICE_CHAT), 1);
}

#[actix_web::test]
async fn a_channel_whose_subscriber_lapses_is_told_once_and_the_subscriber_in_their_own_chat() {
    let l = lapse_world().await;
    let res = l
        .activity(json!({
            "type": "conversationUpdate", "id": "l:team",
            "from": {"id": ALICE_TEAMS, "aadObjectId": ALICE_OID},
            "membersAdded": [{"id": format!("28:{}", fakes::entra::CLIENT_ID)}],
            "conversation": {"id": CHANNEL, "conversationType": "channel", "isGroup": true, "tenantId": fakes::entra::TENANT_ID},
            "channelData": {"eventType": "teamMemberAdded", "team": {"id": CHANNEL}, "tenant": {"id": fakes::entra::TENANT_ID}},
        }))
        .await;
    assert_eq!(res.status(), 200);
    let thread = format!("{CHANNEL};messageid=1");
    l.alice_says(&thread, "channel", "<at>Jira</at> subscribe ABC")
        .await;
    l.settle().await;
    l.event(1_000).await;
    l.settle().await;
    assert_eq!(l.cards(CHANNEL), 1, "the subscription works");
    // Jira revokes Alice's grant: her stored token is refused (a 401, no refresh involved)
    l.s.w.jira.revoke_user(ALICE_KEY);
    for ts in [2_000, 3_000, 4_000] {
        l.event(ts).await;
    }
    l.settle().await;
    let told: Vec<String> =
        l.s.bot
            .received_for(CHANNEL)
            .iter()
            .filter_map(|a| a["text"].as_str().map(str::to_owned))
            .filter(|t| t.starts_with("Updates for"))
            .collect();
    let personal = l.lapse_messages(ALICE_CHAT);
    report(
        "subscriber lapsed (channel + 1:1)",
        told.len() + personal.len(),
        2,
    );
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with("Updates for ABC stopped: alice (Jira)'s Jira sign-in lapsed"),
        "{told:?}"
    );
    assert!(told[0].contains("another member can subscribe"), "{told:?}");
    assert_eq!(personal.len(), 1, "{personal:?}");
    let text = personal[0]["text"].as_str().unwrap();
    assert!(text.contains("updates for ABC"), "{text}");
    assert_eq!(l.cards(CHANNEL), 1, "no more cards while lapsed");
    assert_eq!(l.status(ALICE_KEY), "needs_reauth");
}

#[actix_web::test]
async fn concurrent_fanouts_hitting_the_same_refused_refresh_tell_the_user_once() {
    let l = lapse_world().await;
    // six issues: their fan-outs have different ordering keys, so they run side by side
    let keys: Vec<String> = (1..=6).map(|n| format!("ABC-{}", 100 + n)).collect();
    for (n, key) in keys.iter().enumerate() {
        l.s.w
            .jira
            .add_issue(20_000 + n as u64, key, "Concurrent", &[]);
    }
    l.refuse_alice_jira_refresh();
    for (n, key) in keys.iter().enumerate() {
        l.event_on((20_000 + n as u64, key), 1_000 + n as i64).await;
    }
    l.settle().await;
    let got = l.lapse_messages(ALICE_CHAT);
    report("concurrent fan-outs", got.len(), 1);
    assert_eq!(got.len(), 1, "{got:?}");
}

#[actix_web::test]
async fn concurrent_marks_from_several_connections_queue_one_message() {
    use jira_teams_bridge::db::models::user_mapping::{SignIn, UserMapping};
    let l = lapse_world().await;
    let id: uuid::Uuid = {
        use jira_teams_bridge::db::schema::user_mapping as um;
        um::table
            .filter(um::jira_user_key.eq(ALICE_KEY))
            .select(um::id)
            .first(&mut l.s.w.conn())
            .unwrap()
    };
    // as several daemons would: each its own connection, all at once
    let url = l.s.w.app.db.url.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let firsts: Vec<bool> = (0..8)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                barrier.wait();
                UserMapping::mark_needs_reauth(&mut conn, id, SignIn::Jira, "Jira: refused")
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(firsts.iter().filter(|f| **f).count(), 1, "{firsts:?}");
    l.settle().await;
    let got = l.lapse_messages(ALICE_CHAT);
    report("8 concurrent marks", got.len(), 1);
    assert_eq!(got.len(), 1, "{got:?}");
}

#[actix_web::test]
async fn a_user_without_a_known_personal_chat_is_not_retried_for_ever() {
    let l = lapse_world().await;
    // Bob never installed the app personally; his Jira grant is revoked and his token expired
    diesel::sql_query(
        "UPDATE access_token SET expires_at = now() - interval '1 minute' WHERE kind = 'jira_user'",
    )
    .execute(&mut l.s.w.conn())
    .unwrap();
    l.s.w.jira.revoke_user(BOB_KEY);
    l.s.w.jira.add_watchers(ISSUE, &[BOB_KEY]);
    l.event(1_000).await;
    l.settle().await;
    assert_eq!(l.status(BOB_KEY), "needs_reauth");
    let items = l.items("link_lapsed");
    report("no personal chat", 0, items.len());
    assert_eq!(items.len(), 1, "{items:?}");
    let (status, attempts, note) = &items[0];
    assert_eq!((status.as_str(), *attempts), ("done", 1), "{items:?}");
    assert!(
        note.as_deref().is_some_and(|n| n.contains("no 1:1 chat")),
        "the reason is recorded: {note:?}"
    );
    let anywhere =
        l.s.bot
            .received
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, a)| a["text"].as_str().is_some_and(|t| t.contains("has lapsed")));
    assert!(!anywhere, "nobody was told");
    assert!(
        l.lapse_messages(ALICE_CHAT).is_empty(),
        "Alice did not lapse"
    );
}

#[actix_web::test]
async fn a_users_lapse_messages_are_in_their_export_and_go_with_their_erasure() {
    use jira_teams_bridge::db::models::audit::Actor;
    use jira_teams_bridge::db::models::lifecycle::{Concurrency, Subject, erase, export_to};
    use jira_teams_bridge::db::models::user_mapping::{SignIn, UserMapping};
    let l = lapse_world().await;
    let mut conn = l.s.w.conn();
    let (id, tenant): (uuid::Uuid, uuid::Uuid) = {
        use jira_teams_bridge::db::schema::user_mapping as um;
        um::table
            .filter(um::jira_user_key.eq(ALICE_KEY))
            .select((um::id, um::ms_tenant_id))
            .first(&mut conn)
            .unwrap()
    };
    // a subscription of Alice's, then her lapse (left queued: the runner may not have sent it)
    diesel::sql_query(
        "INSERT INTO channel_subscription (id, jira_instance_id, conversation_id, tenant_id, project_key, events, owner_mapping_id, created_by) \
         VALUES (gen_random_uuid(), $1, $2, $3, 'ABC', ARRAY['issue_updated'], $4, '29:alice-lapse')",
    )
    .bind::<diesel::sql_types::Uuid, _>(l.s.w.instance_id)
    .bind::<diesel::sql_types::Text, _>(CHANNEL)
    .bind::<diesel::sql_types::Uuid, _>(tenant)
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(&mut conn)
    .unwrap();
    assert!(UserMapping::mark_needs_reauth(&mut conn, id, SignIn::Jira, "Jira: refused").unwrap());
    let subject = Subject::User {
        public_id: l.s.w.jira_app.public_id.clone(),
        jira_user_key: ALICE_KEY.into(),
    };
    let mut written = Vec::new();
    export_to(
        &mut conn,
        &subject,
        Concurrency::Any,
        &mut written,
        |_, _| {},
    )
    .unwrap();
    let out: serde_json::Value = serde_json::from_slice(&written).unwrap();
    let kinds: Vec<&str> = out["tables"]["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .filter(|k| k.starts_with("link_lapsed"))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"link_lapsed") && kinds.contains(&"link_lapsed_channel"));
    assert_eq!(out["tables"]["user_mapping"][0]["lapse_count"], 1);
    erase(
        &mut conn,
        &subject,
        &Actor::Cli("test".into()),
        "test",
        |_, _| {},
    )
    .unwrap();
    assert!(l.items("link_lapsed").is_empty());
    assert!(l.items("link_lapsed_channel").is_empty());
}
