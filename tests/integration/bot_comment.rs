//! Adding a comment to a Jira issue from Teams as the linked Jira user (PROTOCOLS.md §6.1, §6.2,
//! §7.5): the "Add to a Jira issue as a comment" message action and the *Comment* button of the
//! bot's issue cards, against the fake Bot Connector and the fake Jira DC, which stores each
//! comment with its author, body and properties (JSM's `sd.public.comment`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fakes;
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::BOT_ID;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_OID};

const ABC_1: u64 = 10045;
const ABC_2: u64 = 10046;
const SEC_1: u64 = 10047;
const HELP_1: u64 = 10050;
const INTERNAL: &str = r#"[{"key":"sd.public.comment","value":{"internal":true}}]"#;

/// Alice and Bob are linked, Carol is not. SEC-1 is hidden from Bob; HELP is a Jira Service
/// Management project.
async fn setup() -> BotWorld {
    let b = bot_world().await;
    let j = &b.w.jira;
    j.add_issue(ABC_1, "ABC-1", "Printer on fire", &[]);
    j.add_issue(ABC_2, "ABC-2", "Login fails for bob", &[]);
    j.add_issue(SEC_1, "SEC-1", "Secret login plan", &[BOB_KEY]);
    j.add_issue(HELP_1, "HELP-1", "Laptop will not start", &[]);
    j.set_project_type("HELP", "service_desk");
    b.w.link(ALICE_KEY, ALICE_OID).await;
    b.w.link(BOB_KEY, BOB_OID).await;
    b
}

/// A Teams user: `29:` id, Entra object id, conversation.
#[derive(Clone, Copy)]
struct User(&'static str, &'static str, &'static str);
const ALICE: User = User("29:alice", ALICE_OID, "a:1alice-personal");
const BOB: User = User("29:bob", BOB_OID, "a:1bob-personal");
const CAROL: User = User("29:carol", CAROL_OID, "a:1carol-personal");

/// Posts an invoke and returns the answer's body (Teams waits 5 s at most).
async fn invoke(s: &BotWorld, u: User, name: &str, value: Value) -> Value {
    let activity = json!({
        "type": "invoke", "name": name, "value": value,
        "id": format!("inv-{}", uuid::Uuid::new_v4()), "channelId": "msteams",
        "serviceUrl": s.bot.service_url(),
        "from": {"id": u.0, "aadObjectId": u.1, "name": "Someone"},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": u.2, "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
    });
    post(s, &activity).await
}

async fn post(s: &BotWorld, activity: &Value) -> Value {
    let started = Instant::now();
    let res = s.post_signed(activity).await;
    assert_eq!(res.status(), 200, "{activity}");
    assert!(started.elapsed() < Duration::from_secs(5));
    res.json().await.unwrap()
}

/// The dialog's card in a `continue` answer.
fn dialog(answer: &Value) -> &Value {
    assert_eq!(answer["task"]["type"], "continue", "{answer}");
    let card = &answer["task"]["value"]["card"];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["version"], "1.4");
    &card["content"]
}

fn input<'a>(card: &'a Value, id: &str) -> Option<&'a Value> {
    card["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
}

/// Every TextBlock of the card, one a line.
fn texts(card: &Value) -> String {
    card["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What Teams sends when the user presses the dialog's button: the action's data with the
/// inputs' values, changed as `set` says.
fn submitted(card: &Value, set: &[(&str, Value)]) -> Value {
    let mut data = card["actions"][0]["data"].clone();
    for b in card["body"].as_array().unwrap() {
        if let Some(id) = b["id"].as_str() {
            data[id] = b["value"].clone();
        }
    }
    for (k, v) in set {
        data[*k] = v.clone();
    }
    data
}

fn submit_action(data: Value) -> Value {
    json!({"commandId": "commentFromMessage", "commandContext": "message", "data": data})
}

fn closed_with(answer: &Value) -> &str {
    assert_eq!(answer["task"]["type"], "message", "{answer}");
    answer["task"]["value"].as_str().unwrap()
}

/// The comments Jira holds on an issue: (author key, body, properties as JSON text).
fn comments(s: &BotWorld, issue: u64) -> Vec<(String, String, String)> {
    s.w.jira
        .comments_of(issue)
        .into_iter()
        .map(|(a, b, p)| (a, b, p.to_string()))
        .collect()
}

#[actix_web::test]
async fn the_message_action_prefills_the_message_as_wiki_markup_and_adds_it_once() {
    let s = setup().await;
    let fetch = s.activity_fixture("comment_from_channel_message");
    let card = dialog(&post(&s, &fetch).await).clone();
    let comment = input(&card, "comment").unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(comment.contains("is *smoking* again & smells"), "{comment}");
    assert!(
        comment.contains("[the printer page|https://intranet.example/printers/2]"),
        "{comment}"
    );
    assert!(
        comment.ends_with("\n\n[Teams message|https://teams.microsoft.com/l/message/19:5c1e9f0a7b2d4e3f8a6b0c9d1e2f3a4b@thread.tacv2/1772444400123]"),
        "{comment}"
    );
    for gone in [
        "<",
        "evil.example",
        "steal",
        "onclick",
        "graph.microsoft.com",
    ] {
        assert!(!comment.contains(gone), "{gone} in {comment}");
    }
    assert_eq!(input(&card, "query").unwrap()["value"], "");
    let toggle = input(&card, "public").unwrap();
    assert_eq!(toggle["type"], "Input.Toggle");
    assert_eq!(
        toggle["title"],
        "Visible to the customer (service projects)"
    );
    assert_eq!(toggle["value"], "false", "internal unless switched on");
    assert!(s.w.jira.comments_of(ABC_1).is_empty());

    // a key: added at once, as Alice, with the prefilled text
    let data = submitted(&card, &[("query", json!("abc-1"))]);
    let done = invoke(
        &s,
        ALICE,
        "composeExtension/submitAction",
        submit_action(data.clone()),
    )
    .await;
    assert_eq!(closed_with(&done), "Added a comment to ABC-1");
    assert_eq!(
        comments(&s, ABC_1),
        [(ALICE_KEY.to_owned(), comment.clone(), "[]".to_owned())],
        "no internal property outside service projects"
    );
    // Teams repeating the submit, or a second click: the same answer, no second comment
    let again = invoke(
        &s,
        ALICE,
        "composeExtension/submitAction",
        submit_action(data),
    )
    .await;
    assert_eq!(again, done);
    assert_eq!(s.w.jira.comments_of(ABC_1).len(), 1);
    assert_eq!(s.w.jira.comment_posts(), (1, 1));
}

#[actix_web::test]
async fn a_message_without_a_link_or_mentions_still_opens_the_dialog() {
    let s = setup().await;
    let card =
        dialog(&post(&s, &s.activity_fixture("comment_from_chat_message_sparse")).await).clone();
    let comment = input(&card, "comment").unwrap()["value"].as_str().unwrap();
    assert!(
        comment.starts_with("Tray 2 jams after 10 pages"),
        "{comment}"
    );
    assert!(
        comment.contains(r"\[sheet\]"),
        "brackets are text, not a link: {comment}"
    );
    assert!(!comment.contains("Teams message"), "{comment}");
    assert!(texts(&card).contains("Add a comment to a Jira issue"));
}

#[actix_web::test]
async fn words_offer_the_issues_the_user_can_see_and_the_choice_gets_the_comment() {
    let s = setup().await;
    let fetched = invoke(
        &s,
        BOB,
        "composeExtension/fetchTask",
        json!({"commandId": "commentFromMessage", "commandContext": "message",
               "messagePayload": {"id": "1", "body": {"contentType": "html", "content": "<p>Seen it too</p>"}}}),
    )
    .await;
    let card = dialog(&fetched).clone();
    let data = submitted(&card, &[("query", json!("login"))]);
    let step = invoke(
        &s,
        BOB,
        "composeExtension/submitAction",
        submit_action(data),
    )
    .await;
    let card = dialog(&step).clone();
    let choice = input(&card, "choice").expect("the issues found to choose from");
    let titles: Vec<&str> = choice["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["ABC-2 · Login fails for bob"],
        "SEC-1 is hidden from Bob"
    );
    assert_eq!(input(&card, "query").unwrap()["value"], "login");
    assert_eq!(input(&card, "comment").unwrap()["value"], "Seen it too");
    assert!(
        s.w.jira.comments_of(ABC_2).is_empty(),
        "searching writes nothing"
    );

    let done = invoke(
        &s,
        BOB,
        "composeExtension/submitAction",
        submit_action(submitted(&card, &[])),
    )
    .await;
    assert_eq!(closed_with(&done), "Added a comment to ABC-2");
    assert_eq!(comments(&s, ABC_2)[0].0, BOB_KEY);

    // words nobody's issue matches: said in the dialog, which stays open
    let none = invoke(
        &s,
        BOB,
        "composeExtension/submitAction",
        submit_action(submitted(
            &card,
            &[("query", json!("toner")), ("nonce", json!("n-2"))],
        )),
    )
    .await;
    let card = dialog(&none);
    assert!(
        texts(card).contains("No issue you can see matches \"toner\"."),
        "{card}"
    );
    assert!(
        input(card, "choice").is_none(),
        "the old choice is gone with the old words"
    );
    assert_eq!(s.w.jira.comment_posts().0, 1);
}

#[actix_web::test]
async fn in_a_service_project_the_comment_is_internal_unless_shown_to_the_customer() {
    let s = setup().await;
    let base =
        json!({"action": "commentIssue", "query": "HELP-1", "comment": "Checked the charger"});
    let mut internal = base.clone();
    internal["nonce"] = json!("n-internal");
    internal["public"] = json!("false");
    let done = invoke(
        &s,
        ALICE,
        "composeExtension/submitAction",
        submit_action(internal),
    )
    .await;
    assert_eq!(closed_with(&done), "Added a comment to HELP-1");
    let mut public = base;
    public["nonce"] = json!("n-public");
    public["public"] = json!("true");
    invoke(
        &s,
        ALICE,
        "composeExtension/submitAction",
        submit_action(public),
    )
    .await;
    assert_eq!(
        comments(&s, HELP_1),
        [
            (
                ALICE_KEY.to_owned(),
                "Checked the charger".to_owned(),
                INTERNAL.to_owned()
            ),
            (
                ALICE_KEY.to_owned(),
                "Checked the charger".to_owned(),
                "[]".to_owned()
            ),
        ]
    );
}

#[actix_web::test]
async fn bad_input_is_said_in_the_dialog_and_writes_nothing() {
    let s = setup().await;
    let form = |query: &str, comment: &str| {
        submit_action(
            json!({"action": "commentIssue", "nonce": format!("n-{query}-{}", comment.len()),
                             "query": query, "comment": comment, "public": "false"}),
        )
    };
    let refused = |answer: Value, said: &str| {
        let card = dialog(&answer).clone();
        assert!(texts(&card).contains(said), "{said} not in {card}");
        card
    };
    let card = refused(
        invoke(
            &s,
            BOB,
            "composeExtension/submitAction",
            form("ABC-1", " \n "),
        )
        .await,
        "Enter the comment.",
    );
    assert_eq!(
        input(&card, "query").unwrap()["value"],
        "ABC-1",
        "inputs kept"
    );
    let long = "a".repeat(32_768);
    let card = refused(
        invoke(
            &s,
            BOB,
            "composeExtension/submitAction",
            form("ABC-1", &long),
        )
        .await,
        "Jira takes at most 32,767",
    );
    assert_eq!(input(&card, "comment").unwrap()["value"], long.as_str());
    refused(
        invoke(&s, BOB, "composeExtension/submitAction", form("", "hi")).await,
        "Enter the issue's key, or words to find it.",
    );
    // hidden and missing read the same: the key's existence is not told
    refused(
        invoke(
            &s,
            BOB,
            "composeExtension/submitAction",
            form("SEC-1", "hi"),
        )
        .await,
        "SEC-1 is not available to you in Jira.",
    );
    refused(
        invoke(
            &s,
            BOB,
            "composeExtension/submitAction",
            form("ABC-99", "hi"),
        )
        .await,
        "ABC-99 is not available to you in Jira.",
    );
    // Jira's own refusal is shown; the dialog can be sent again once Jira allows it
    s.w.jira.deny_commenting(BOB_KEY);
    let denied = form("ABC-1", "hi");
    refused(
        invoke(&s, BOB, "composeExtension/submitAction", denied.clone()).await,
        "Jira refused: You do not have the permission to comment on this issue.",
    );
    assert_eq!(s.w.jira.comment_posts(), (0, 0), "nothing was written");
    s.w.jira.links.lock().unwrap().no_comment_permission.clear();
    let done = invoke(&s, BOB, "composeExtension/submitAction", denied).await;
    assert_eq!(closed_with(&done), "Added a comment to ABC-1");
    assert_eq!(
        comments(&s, ABC_1),
        [(BOB_KEY.to_owned(), "hi".to_owned(), "[]".to_owned())]
    );

    // Carol, unlinked, is asked to link by the fetch and the submit alike
    for (name, value) in [
        (
            "composeExtension/fetchTask",
            json!({"commandId": "commentFromMessage", "messagePayload": {"body": {"content": "x"}}}),
        ),
        ("composeExtension/submitAction", form("ABC-1", "from carol")),
    ] {
        let answer = invoke(&s, CAROL, name, value).await;
        assert_eq!(
            answer["composeExtension"]["type"], "auth",
            "{name}: {answer}"
        );
    }
    assert_eq!(s.w.jira.comments_of(ABC_1).len(), 1);
}

/// The *Comment* button of a card the bot posted.
fn comment_button(activity: &Value) -> Value {
    activity["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Comment")
        .unwrap_or_else(|| panic!("no Comment button on {activity}"))
        .clone()
}

#[actix_web::test]
async fn the_comment_button_of_an_event_card_opens_the_dialog_for_that_issue() {
    let c = crate::support::cards::cards().await;
    c.comment("comment_created", 1_772_440_000_000).await;
    let posted = c.s.bot.received_for(&c.chat);
    let card = posted
        .iter()
        .rev()
        .find(|a| a["attachments"].is_array())
        .expect("the event's card in the chat");
    let button = comment_button(card);
    assert_eq!(button["type"], "Action.Submit");
    assert_eq!(button["data"]["msteams"]["type"], "task/fetch");
    // Bob presses it in the chat: Teams sends the button's data in a task/fetch
    let in_chat = |name: &str, value: Value| {
        json!({
            "type": "invoke", "name": name, "value": value,
            "id": format!("inv-{}", uuid::Uuid::new_v4()), "channelId": "msteams",
            "serviceUrl": c.s.bot.service_url(),
            "from": {"id": "29:bob", "aadObjectId": BOB_OID, "name": "Bob"},
            "recipient": {"id": format!("28:{BOT_ID}")},
            "conversation": {"id": c.chat.clone(), "conversationType": "groupChat", "tenantId": fakes::entra::TENANT_ID},
        })
    };
    let fetched = post(
        &c.s,
        &in_chat(
            "task/fetch",
            json!({"data": button["data"], "context": {"theme": "default"}}),
        ),
    )
    .await;
    let form = dialog(&fetched).clone();
    assert!(
        texts(&form).contains("Comment on ABC-1 · Printer on fire"),
        "{form}"
    );
    assert!(input(&form, "query").is_none(), "the issue is fixed");
    assert!(
        input(&form, "public").is_none(),
        "ABC is no service project"
    );
    assert_eq!(input(&form, "comment").unwrap()["value"], "");

    let data = submitted(&form, &[("comment", json!("On it: *new toner* ordered"))]);
    let submit = in_chat(
        "task/submit",
        json!({"data": data, "context": {"theme": "default"}}),
    );
    let done = post(&c.s, &submit).await;
    assert_eq!(closed_with(&done), "Added a comment to ABC-1");
    let mut again = submit.clone();
    again["id"] = json!("inv-repeat");
    assert_eq!(post(&c.s, &again).await, done);
    assert_eq!(
        comments(&c.s, ABC_1),
        [(
            BOB_KEY.to_owned(),
            "On it: *new toner* ordered".to_owned(),
            "[]".to_owned()
        )]
    );

    // someone who may not see the issue gets no dialog and learns nothing about it
    c.s.w
        .jira
        .add_issue(10099, "ABC-9", "Salary review", &[BOB_KEY]);
    let mut hidden = button["data"].clone();
    hidden["issue"] = json!("10099");
    let answer = post(&c.s, &in_chat("task/fetch", json!({"data": hidden}))).await;
    assert_eq!(
        closed_with(&answer),
        "This issue is not available to you in Jira."
    );
    assert!(!answer.to_string().contains("Salary"));
}

#[actix_web::test]
async fn an_unlinked_user_pressing_the_button_gets_a_sign_in_dialog() {
    let s = setup().await;
    let data = json!({"msteams": {"type": "task/fetch"}, "action": "commentOnIssue",
                      "instance": s.w.jira_app.public_id, "issue": ABC_1.to_string()});
    let answer = invoke(&s, CAROL, "task/fetch", json!({"data": data})).await;
    let card = dialog(&answer);
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl", "{card}");
    assert!(!answer.to_string().contains("Printer"), "{answer}");
    // Alice, linked, gets the dialog of a service-project issue with the customer toggle
    let mut help = data.clone();
    help["issue"] = json!(HELP_1.to_string());
    let form = dialog(&invoke(&s, ALICE, "task/fetch", json!({"data": help})).await).clone();
    assert!(texts(&form).contains("Comment on HELP-1 · Laptop will not start"));
    assert_eq!(input(&form, "public").unwrap()["value"], "false");
    let done = invoke(
        &s,
        ALICE,
        "task/submit",
        json!({"data": submitted(&form, &[("comment", json!("Replaced the battery"))])}),
    )
    .await;
    assert_eq!(closed_with(&done), "Added a comment to HELP-1");
    assert_eq!(comments(&s, HELP_1)[0].2, INTERNAL);
}

#[actix_web::test]
async fn a_post_jira_does_not_answer_in_time_is_never_sent_twice() {
    let s = setup().await;
    // Jira stores the comment, then answers after Teams' patience is gone
    s.w.jira.delay_link_answers(6_000);
    let form = submit_action(json!({"action": "commentIssue", "nonce": "n-slow",
                                    "query": "ABC-1", "comment": "Slow Jira", "public": "false"}));
    let first = invoke(&s, ALICE, "composeExtension/submitAction", form.clone()).await;
    assert!(
        closed_with(&first).contains("the comment may be on ABC-1 already"),
        "{first}"
    );
    let again = invoke(&s, ALICE, "composeExtension/submitAction", form).await;
    assert_eq!(closed_with(&again), "This comment is being added already.");
    assert_eq!(s.w.jira.comment_posts().0, 1, "one post reached Jira");
    assert_eq!(comments(&s, ABC_1).len(), 1);
}
