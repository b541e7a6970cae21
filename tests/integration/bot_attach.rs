//! Linking a Teams group chat to a Jira issue from the chat (issue 16): `attach <KEY>` and
//! `detach <KEY>` typed to the bot, checked against the Bot Connector double (what the chat is
//! told), the database (the link with Graph's topic, `webUrl` and members), the Jira double (the
//! remote link written and deleted) and a Jira webhook whose card must reach the attached chat.
//! The other ways in: *Attach this chat* on search and unfurl cards in a group chat, and
//! "Link this chat" on the create form opened from a group chat's message. Bad input: channels
//! and the 1:1 chat, unknown and hidden keys, unlinked senders, Graph's 404, 403 and 429.

use std::time::Instant;

use diesel::RunQueryDsl;
use jira_teams_bridge::db::models::bot_membership::BotMembership;
use jira_teams_bridge::db::models::issue_chat::IssueChat;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fakes;
use crate::support::bot::{BotWorld, bot_world};
use crate::support::wait::{eventually, outbox_settled};
use crate::support::webhook::{post_fixture, webhook_path};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_OID, ISSUE, install_bot, instance_id,
};

/// The group chat of the `group_chat_attach` fixture.
pub const CHAT: &str = "19:5c2e8f1a9b7d4e3c8a6f2b1d0e9c7a54@thread.v2";
/// Alice's Teams id in that fixture.
const ALICE_TEAMS: &str = "29:1aliceTeamsIdForTheBridgeTests";

/// Alice and Bob linked; ABC-1 (10045) visible to both, SEC-1 hidden from Alice; the group chat
/// [`CHAT`] exists in Teams with Alice, Bob and Carol, topic "Printer war room". The appliance
/// has no record of the bot in that chat.
pub async fn attach_world() -> BotWorld {
    let b = bot_world().await;
    b.w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    b.w.jira
        .add_issue(10047, "SEC-1", "Secret login plan", &[ALICE_KEY]);
    assert_eq!(b.w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(b.w.link(BOB_KEY, BOB_OID).await.0, 200);
    b.w.graph.add_group_chat(
        CHAT,
        &[ALICE_OID, BOB_OID, CAROL_OID],
        Some("Printer war room"),
    );
    b
}

/// A message from `from` (Teams id, Entra object id) in conversation `conversation` of type
/// `kind`, shaped as the `group_chat_attach` fixture.
pub fn message(
    b: &BotWorld,
    from: (&str, &str),
    conversation: &str,
    kind: &str,
    text: &str,
) -> Value {
    let mut a = b.activity_fixture("group_chat_attach");
    a["id"] = json!(format!("m-{}", Uuid::new_v4()));
    a["text"] = json!(format!("<at>Jira</at> {text}"));
    a["from"] = json!({"id": from.0, "aadObjectId": from.1});
    a["conversation"]["id"] = json!(conversation);
    a["conversation"]["conversationType"] = json!(kind);
    a["conversation"]["isGroup"] = json!(kind != "personal");
    a
}

/// Posts `activity` and returns the first new answer in its conversation.
pub async fn answer_to(b: &BotWorld, activity: &Value) -> Value {
    let conversation = activity["conversation"]["id"].as_str().unwrap().to_owned();
    let before = b.bot.received_for(&conversation).len();
    let res = b.post_signed(activity).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    eventually("the bot's answer", 10, || {
        b.bot.received_for(&conversation).len() > before
    })
    .await;
    b.bot.received_for(&conversation)[before].clone()
}

/// The text of an answer, with its cards' text blocks.
pub fn said(answer: &Value) -> String {
    let mut out = answer["text"].as_str().unwrap_or_default().to_owned();
    for a in answer["attachments"].as_array().into_iter().flatten() {
        for block in a["content"]["body"].as_array().into_iter().flatten() {
            out.push('\n');
            out.push_str(block["text"].as_str().unwrap_or_default());
        }
    }
    out
}

/// The link of `chat` to `issue`, if any.
pub fn link_row(b: &BotWorld, issue: u64, chat: &str) -> Option<IssueChat> {
    IssueChat::find(&mut b.w.conn(), b.w.instance_id, issue as i64, chat)
        .unwrap()
        .map(|(l, _)| l)
}

/// The id Jira gave issue `key`.
fn issue_id(b: &BotWorld, key: &str) -> u64 {
    b.w.jira.issues.lock().unwrap()[key].id
}

fn is_card(m: &Value) -> bool {
    m["attachments"].as_array().is_some_and(|a| !a.is_empty())
}

#[actix_web::test]
async fn attach_links_the_group_chat_and_the_next_jira_event_reaches_it_until_detach() {
    let b = attach_world().await;
    let hook = webhook_path(&b.w).await;
    let started = Instant::now();
    let first = answer_to(&b, &b.activity_fixture("group_chat_attach")).await;
    assert_eq!(
        said(&first),
        "This chat is now linked to ABC-1: Printer on fire. Its updates will appear here."
    );
    // the next Jira event for ABC-1 reaches the chat as a card (the answers are plain text)
    // posted as soon as the chat is told, so the time measured is attach -> card
    let hook_posted = Instant::now();
    post_fixture(&b.w.app, &hook, "issue_updated").await;
    eventually("the issue's card in the attached chat", 10, || {
        b.bot.received_for(CHAT).iter().any(is_card)
    })
    .await;
    let to_card = started.elapsed();
    let card = b.bot.received_for(CHAT).into_iter().find(is_card).unwrap();
    assert!(card.to_string().contains("ABC-1"), "{card}");
    eprintln!(
        "attach -> first card in the chat: {} ms (of which webhook -> card {} ms)",
        to_card.as_millis(),
        hook_posted.elapsed().as_millis()
    );

    let link = link_row(&b, ISSUE, CHAT).expect("the chat is linked to ABC-1");
    assert_eq!(link.created_by, ALICE_KEY);
    assert_eq!(link.topic.as_deref(), Some("Printer war room"));
    assert!(
        link.web_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/chat/")),
        "{:?}",
        link.web_url
    );
    let mut members =
        IssueChat::known_members(&mut b.w.conn(), b.w.instance_id, ISSUE as i64, CHAT).unwrap();
    members.sort();
    let mut expected: Vec<Uuid> = [ALICE_OID, BOB_OID, CAROL_OID]
        .iter()
        .map(|o| Uuid::parse_str(o).unwrap())
        .collect();
    expected.sort();
    assert_eq!(members, expected, "Graph's members are recorded");
    // the activity came from the chat, so the bot is there: its membership is recorded with the
    // activity's service URL, which the chat's cards then go to
    let m = BotMembership::find(&mut b.w.conn(), CHAT)
        .unwrap()
        .expect("recorded");
    assert_eq!((m.scope.as_str(), m.is_active()), ("groupChat", true));
    assert_eq!(m.service_url, b.bot.service_url());
    // the remote link, written as Alice
    eventually("the remote link in Jira", 10, || {
        !b.w.jira.remote_links(ISSUE).is_empty()
    })
    .await;
    let links = b.w.jira.remote_links(ISSUE);
    assert_eq!(links.len(), 1);
    // titled with the chat's topic, as every linked chat's remote link is
    assert_eq!(links[0].1["object"]["title"], "Printer war room");

    // attaching again changes nothing
    let again = answer_to(
        &b,
        &message(
            &b,
            (ALICE_TEAMS, ALICE_OID),
            CHAT,
            "groupChat",
            "attach ABC-1",
        ),
    )
    .await;
    assert_eq!(said(&again), "This chat is already attached to ABC-1.");
    outbox_settled(&b.w.app.db.url, 10).await;
    assert_eq!(b.w.jira.remote_links(ISSUE).len(), 1);

    // Bob, a member, detaches it: the link goes, its remote link is deleted in Jira
    let bob = ("29:bobTeamsId", BOB_OID);
    let gone = answer_to(&b, &message(&b, bob, CHAT, "groupChat", "detach abc-1")).await;
    assert_eq!(
        said(&gone),
        "This chat is no longer linked to ABC-1; its updates will not appear here any more."
    );
    assert!(link_row(&b, ISSUE, CHAT).is_none());
    eventually("the remote link deleted in Jira", 10, || {
        b.w.jira.remote_links(ISSUE).is_empty()
    })
    .await;
    let not = answer_to(&b, &message(&b, bob, CHAT, "groupChat", "detach ABC-1")).await;
    assert_eq!(said(&not), "This chat is not attached to ABC-1.");

    // and the next event no longer reaches the chat
    outbox_settled(&b.w.app.db.url, 10).await;
    let seen = b.bot.received_for(CHAT).len();
    post_fixture(&b.w.app, &hook, "issue_commented").await;
    outbox_settled(&b.w.app.db.url, 10).await;
    assert_eq!(b.bot.received_for(CHAT).len(), seen);
}

#[actix_web::test]
async fn attach_is_refused_in_a_channel_and_in_the_1_1_chat_and_links_nothing() {
    let b = attach_world().await;
    let alice = (ALICE_TEAMS, ALICE_OID);
    let channel = "19:Kq3vX8pLm2Rt5Wz9Yb1Nc4Hd7Jf0Gs6A@thread.tacv2";
    let mut in_channel = message(&b, alice, channel, "channel", "attach ABC-1");
    in_channel["channelData"]["team"] = json!({"id": channel});
    let said_in_channel = said(&answer_to(&b, &in_channel).await);
    assert!(
        said_in_channel.contains("In a channel, type **subscribe**"),
        "{said_in_channel}"
    );
    let personal = "a:1alicePersonalChatWithTheBridgeBot";
    let said_in_personal = said(
        &answer_to(
            &b,
            &message(&b, alice, personal, "personal", "attach ABC-1"),
        )
        .await,
    );
    assert!(
        said_in_personal.contains("work in a group chat"),
        "{said_in_personal}"
    );
    for chat in [channel, personal] {
        assert!(link_row(&b, ISSUE, chat).is_none());
    }
    outbox_settled(&b.w.app.db.url, 10).await;
    assert!(b.w.jira.remote_links(ISSUE).is_empty());
    // and help in a group chat lists attach and detach, in a channel it does not
    let help = said(&answer_to(&b, &message(&b, alice, CHAT, "groupChat", "help")).await);
    assert!(help.contains("- **attach** `<KEY> [instance]`"), "{help}");
    assert!(help.contains("- **detach**"), "{help}");
    let channel_help = said(&answer_to(&b, &message(&b, alice, channel, "channel", "help")).await);
    assert!(!channel_help.contains("- **attach**"), "{channel_help}");
}

#[actix_web::test]
async fn unknown_and_hidden_keys_are_not_available_and_nobody_asks_graph() {
    let b = attach_world().await;
    let alice = (ALICE_TEAMS, ALICE_OID);
    for (key, text) in [
        ("ABC-404", "ABC-404 is not available to you"),
        // Jira DC answers 403 for an issue that exists but is hidden: told the same as a 404
        ("SEC-1", "SEC-1 is not available to you"),
    ] {
        let answer = said(
            &answer_to(
                &b,
                &message(&b, alice, CHAT, "groupChat", &format!("attach {key}")),
            )
            .await,
        );
        assert!(answer.starts_with(text), "{answer}");
        assert!(!answer.contains("Secret"), "{answer}");
    }
    let usage = said(&answer_to(&b, &message(&b, alice, CHAT, "groupChat", "attach")).await);
    assert!(usage.contains("e.g. **attach ABC-12**"), "{usage}");
    assert!(link_row(&b, 10047, CHAT).is_none());
    assert!(
        !b.w.graph
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, path)| path.starts_with("/v1.0/chats/")),
        "no chat was read"
    );
    assert!(
        BotMembership::find(&mut b.w.conn(), CHAT)
            .unwrap()
            .is_none()
    );
}

#[actix_web::test]
async fn an_unlinked_sender_gets_a_sign_in_card_and_nothing_is_linked() {
    let b = attach_world().await;
    let carol = message(
        &b,
        ("29:carolTeamsId", CAROL_OID),
        CHAT,
        "groupChat",
        "attach ABC-1",
    );
    let answer = answer_to(&b, &carol).await;
    assert!(
        said(&answer).contains("Link your Jira account first"),
        "{answer}"
    );
    let card = &answer["attachments"][0]["content"];
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl", "{card}");
    assert!(link_row(&b, ISSUE, CHAT).is_none());

    // a sender Teams does not name by Entra object id cannot be matched to a link either
    let mut anonymous = message(
        &b,
        ("29:someone", CAROL_OID),
        CHAT,
        "groupChat",
        "attach ABC-1",
    );
    anonymous["from"] = json!({"id": "29:someone"});
    let answer = said(&answer_to(&b, &anonymous).await);
    assert!(answer.contains("Link your Jira account first"), "{answer}");
    assert!(link_row(&b, ISSUE, CHAT).is_none());
}

#[actix_web::test]
async fn graph_refusing_or_throttling_the_chat_links_nothing_and_says_why() {
    let b = attach_world().await;
    let alice = (ALICE_TEAMS, ALICE_OID);
    // a chat Graph does not know (404)
    let unknown = "19:00000000000000000000000000000404@thread.v2";
    let said404 = said(
        &answer_to(
            &b,
            &message(&b, alice, unknown, "groupChat", "attach ABC-1"),
        )
        .await,
    );
    assert_eq!(
        said404,
        "I could not attach this chat to ABC-1: Teams does not know this chat (it may have been deleted)."
    );
    // a chat Alice is not a member of (403)
    let theirs = "19:0000000000000000000000000000b0b0@thread.v2";
    b.w.graph
        .add_group_chat(theirs, &[BOB_OID, CAROL_OID], Some("Bob and Carol"));
    let said403 =
        said(&answer_to(&b, &message(&b, alice, theirs, "groupChat", "attach ABC-1")).await);
    assert_eq!(
        said403,
        "I could not attach this chat to ABC-1: Teams says you are not a member of this chat."
    );
    // Graph throttling (429 + Retry-After beyond what the appliance waits for)
    b.w.graph.throttle_next(1, 120);
    let said429 =
        said(&answer_to(&b, &message(&b, alice, CHAT, "groupChat", "attach ABC-1")).await);
    assert_eq!(
        said429,
        "I could not attach this chat to ABC-1: Teams is busy; try again in 120 s."
    );
    for chat in [unknown, theirs, CHAT] {
        assert!(link_row(&b, ISSUE, chat).is_none(), "{chat}");
        assert!(
            BotMembership::find(&mut b.w.conn(), chat)
                .unwrap()
                .is_none(),
            "nothing half-written for {chat}"
        );
    }
    outbox_settled(&b.w.app.db.url, 10).await;
    assert!(b.w.jira.remote_links(ISSUE).is_empty());
}

/// An invoke from Alice in `conversation` of type `kind`; its synchronous answer.
async fn invoke(b: &BotWorld, conversation: &str, kind: &str, name: &str, value: Value) -> Value {
    let mut a = message(b, (ALICE_TEAMS, ALICE_OID), conversation, kind, "");
    a["type"] = json!("invoke");
    a.as_object_mut().unwrap().remove("text");
    a["name"] = json!(name);
    a["value"] = value;
    let started = Instant::now();
    let res = b.post_signed(&a).await;
    assert_eq!(res.status(), 200, "{name}");
    assert!(
        started.elapsed().as_secs() < 5,
        "{name} took {:?}",
        started.elapsed()
    );
    res.json().await.unwrap()
}

/// The *Attach this chat* actions of a message-extension answer's cards.
fn attach_actions(answer: &Value) -> Vec<Value> {
    answer["composeExtension"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            a["content"]["actions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|a| a["title"] == "Attach this chat")
        .collect()
}

#[actix_web::test]
async fn search_and_unfurl_cards_in_a_group_chat_offer_attach_this_chat_which_links_it() {
    let b = attach_world().await;
    let search = json!({"commandId": "search", "parameters": [{"name": "q", "value": "printer"}]});
    let in_chat = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/query",
        search.clone(),
    )
    .await;
    let offered = attach_actions(&in_chat);
    assert_eq!(
        offered,
        [json!({"type": "Action.Submit", "title": "Attach this chat",
                "data": {"action": "attachChat", "instance": b.w.jira_app.public_id, "issue": "10045"}})],
        "{in_chat}"
    );
    let personal = "a:1alicePersonalChatWithTheBridgeBot";
    let alone = invoke(&b, personal, "personal", "composeExtension/query", search).await;
    assert_eq!(
        alone["composeExtension"]["attachments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        attach_actions(&alone).is_empty(),
        "only a group chat can be attached"
    );
    let url = json!({"url": format!("{}/browse/ABC-1", b.w.jira.base)});
    let unfurled = invoke(&b, CHAT, "groupChat", "composeExtension/queryLink", url).await;
    assert_eq!(attach_actions(&unfurled), offered);

    // a card a user inserted from the message extension: Teams sends the click as an invoke
    // with the button's data; the invoke does not show the bot in the chat, so it must be known
    let click = |id: &str, data: &Value| {
        let mut a = message(&b, (ALICE_TEAMS, ALICE_OID), CHAT, "groupChat", "");
        a["type"] = json!("invoke");
        a.as_object_mut().unwrap().remove("text");
        a["id"] = json!(id);
        a["name"] = json!("composeExtension/onCardButtonClicked");
        a["value"] = data.clone();
        a
    };
    let data = offered[0]["data"].clone();
    let before = said(&answer_to(&b, &click("c-1", &data)).await);
    assert!(
        before.contains("the Jira app is not in this chat"),
        "{before}"
    );
    assert!(
        link_row(&b, ISSUE, CHAT).is_none(),
        "the bot is not known in the chat"
    );
    install_bot(
        &mut b.w.conn(),
        CHAT,
        fakes::entra::TENANT_ID,
        &b.bot.service_url(),
    );
    let answer = said(&answer_to(&b, &click("c-2", &data)).await);
    assert_eq!(
        answer,
        "This chat is now linked to ABC-1: Printer on fire. Its updates will appear here."
    );
    assert!(link_row(&b, ISSUE, CHAT).is_some());
    // a button the bot posted comes back as a message; one made to name an issue Alice may not
    // see links nothing and tells nothing
    let mut forged = message(&b, (ALICE_TEAMS, ALICE_OID), CHAT, "groupChat", "");
    forged.as_object_mut().unwrap().remove("text");
    forged["id"] = json!("m-forged");
    forged["value"] = data.clone();
    forged["value"]["issue"] = json!("10047");
    let forged = said(&answer_to(&b, &forged).await);
    assert!(
        forged.starts_with("This issue is not available to you"),
        "{forged}"
    );
    assert!(link_row(&b, 10047, CHAT).is_none());
}

#[actix_web::test]
async fn creating_an_issue_from_a_group_chat_message_links_the_chat_once() {
    let b = attach_world().await;
    b.w.jira
        .add_project(10000, "ABC", "Alpha", &[("10001", "Task")], &[]);
    let payload = json!({"id": "1764756900999", "body": {"contentType": "html", "content": "<p>Toner everywhere</p>"},
        "from": {"user": {"id": BOB_OID, "displayName": "Bob Brown"}}});
    let fetch = json!({"commandId": "createFromMessage", "commandContext": "message", "messagePayload": payload});
    let fetched = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/fetchTask",
        fetch.clone(),
    )
    .await;
    let card = &fetched["task"]["value"]["card"]["content"];
    let toggle = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "linkChat")
        .unwrap_or_else(|| panic!("no toggle in {card}"));
    assert_eq!(
        (&toggle["type"], &toggle["value"]),
        (&json!("Input.Toggle"), &json!("true"))
    );
    let personal = "a:1alicePersonalChatWithTheBridgeBot";
    let alone = invoke(
        &b,
        personal,
        "personal",
        "composeExtension/fetchTask",
        fetch,
    )
    .await;
    assert!(!alone.to_string().contains("linkChat"), "{alone}");

    let mut data = card["actions"][0]["data"].clone();
    data["target"] = json!(format!("{}:ABC:10001", b.w.jira_app.public_id));
    data["summary"] = json!("Toner everywhere");
    data["description"] = json!("");
    data["linkChat"] = json!("true");
    let submit = |data: &Value| json!({"commandId": "createFromMessage", "commandContext": "message", "data": data});
    // the dialog's invoke may come from a chat the bot is not in: the issue is created, the
    // chat is not linked, and the answer says why
    let first = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/submitAction",
        submit(&data),
    )
    .await;
    assert_eq!(
        first["task"]["value"],
        "Created ABC-2; the chat could not be linked: the Jira app is not in this chat (or was blocked here); add the app to this chat and try again."
    );
    assert_eq!(b.w.jira.created().len(), 1);
    assert!(
        BotMembership::find(&mut b.w.conn(), CHAT)
            .unwrap()
            .is_none()
    );

    // with the bot in the chat, a new form creates the issue and links the chat to it
    install_bot(
        &mut b.w.conn(),
        CHAT,
        fakes::entra::TENANT_ID,
        &b.bot.service_url(),
    );
    data["nonce"] = json!("second-form");
    let second = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/submitAction",
        submit(&data),
    )
    .await;
    assert_eq!(
        second["task"]["value"],
        "Created ABC-3 and linked this chat to it; its updates will appear here."
    );
    let created = b.w.jira.created();
    assert_eq!(created.len(), 2);
    let new_id = issue_id(&b, "ABC-3");
    let link = link_row(&b, new_id, CHAT).expect("the chat is linked to the new issue");
    assert_eq!(link.topic.as_deref(), Some("Printer war room"));
    eventually("the new issue's remote link", 10, || {
        !b.w.jira.remote_links(new_id).is_empty()
    })
    .await;
    // the same form again: nothing more is created or linked
    let again = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/submitAction",
        submit(&data),
    )
    .await;
    assert_eq!(
        again["task"]["value"],
        "Created ABC-3; this chat is linked to it."
    );
    assert_eq!(b.w.jira.created().len(), 2);
    outbox_settled(&b.w.app.db.url, 10).await;
    assert_eq!(b.w.jira.remote_links(new_id).len(), 1);
    // the toggle off: created, not linked
    data["nonce"] = json!("third-form");
    data["linkChat"] = json!("false");
    let off = invoke(
        &b,
        CHAT,
        "groupChat",
        "composeExtension/submitAction",
        submit(&data),
    )
    .await;
    assert_eq!(off["task"]["value"], "Created ABC-4");
    assert!(link_row(&b, issue_id(&b, "ABC-4"), CHAT).is_none());
}

#[actix_web::test]
async fn with_several_instances_the_key_is_looked_up_where_the_sender_is_linked_or_where_named() {
    let b = attach_world().await;
    let (base2, jira2) = fakes::jira::start("/second");
    jira2.add_user(ALICE_KEY, "alice", "alice (second Jira)");
    let (public_id, _) = b.w.app.register_instance(&base2).await;
    let second = instance_id(&mut b.w.conn(), &public_id);
    let oauth = [
        ("client_id", fakes::jira::CLIENT_ID),
        ("client_secret", fakes::jira::CLIENT_SECRET),
    ];
    let res =
        b.w.app
            .post_form(&format!("/admin/instances/{second}/oauth"), &oauth)
            .await;
    assert_eq!(res.status(), 200);
    // Alice's link on the second instance has no Jira token yet (she must sign in there)
    diesel::sql_query(format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id, jira_user_name) \
         VALUES (gen_random_uuid(), '{second}', '{ALICE_KEY}', '{}', '{ALICE_OID}', 'alice (second Jira)')",
        fakes::entra::TENANT_ID
    ))
    .execute(&mut b.w.conn())
    .unwrap();
    let alice = (ALICE_TEAMS, ALICE_OID);
    let label2 = base2.trim_start_matches("http://").to_owned();
    // named: only that instance is asked
    let named = said(
        &answer_to(
            &b,
            &message(
                &b,
                alice,
                CHAT,
                "groupChat",
                &format!("attach ABC-1 {label2}"),
            ),
        )
        .await,
    );
    assert!(named.contains("must be renewed"), "{named}");
    let unknown = said(
        &answer_to(
            &b,
            &message(&b, alice, CHAT, "groupChat", "attach ABC-1 nowhere.example"),
        )
        .await,
    );
    assert!(
        unknown.starts_with("You are not linked on a Jira instance \"nowhere.example\". Yours: "),
        "{unknown}"
    );
    assert!(link_row(&b, ISSUE, CHAT).is_none());
    // not named: the one instance where Alice sees ABC-1 is taken
    let first = said(&answer_to(&b, &message(&b, alice, CHAT, "groupChat", "attach ABC-1")).await);
    assert_eq!(
        first,
        "This chat is now linked to ABC-1: Printer on fire. Its updates will appear here."
    );
    assert!(link_row(&b, ISSUE, CHAT).is_some());
}

#[actix_web::test]
async fn a_message_from_a_chat_recorded_as_left_records_the_bot_there_again() {
    let b = attach_world().await;
    install_bot(
        &mut b.w.conn(),
        CHAT,
        fakes::entra::TENANT_ID,
        "https://old.example/",
    );
    diesel::sql_query("UPDATE bot_membership SET status = 'installationRemoved'")
        .execute(&mut b.w.conn())
        .unwrap();
    // Teams delivers a group chat's messages only to a bot in it: the removal is out of date
    let answer = said(&answer_to(&b, &b.activity_fixture("group_chat_attach")).await);
    assert!(
        answer.starts_with("This chat is now linked to ABC-1"),
        "{answer}"
    );
    let m = BotMembership::find(&mut b.w.conn(), CHAT).unwrap().unwrap();
    assert!(m.is_active(), "{}", m.status);
    assert_eq!(m.service_url, b.bot.service_url());
}
