//! Working with Jira from Teams as the linked Jira user (PROTOCOLS.md §6.1-6.4, §7): `find`,
//! the search message extension, `create` and its card, the "Create Jira issue" message action
//! and link unfurling, against the fake Bot Connector and the fake Jira, whose records say who
//! did what.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fakes::{self};
use crate::support::bot::{BotWorld, bot_world};
use crate::support::jwt::BOT_ID;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_OID};

/// The bot world with Jira's projects and issues laid out.
struct Setup(BotWorld);

impl std::ops::Deref for Setup {
    type Target = BotWorld;
    fn deref(&self) -> &BotWorld {
        &self.0
    }
}

/// Alice and Bob are linked, Carol is not. ABC is visible to all; SEC and its issue are
/// hidden from Bob. ABC has four issue types (one a sub-task), served two per createmeta page.
async fn setup() -> Setup {
    let b = bot_world().await;
    let w = &b.w;
    let j = &w.jira;
    j.add_project(
        10000,
        "ABC",
        "Alpha",
        &[
            ("10001", "Task"),
            ("10002", "Bug"),
            ("10003", "Sub-task"),
            ("10004", "Story"),
        ],
        &[],
    );
    j.add_project(10100, "SEC", "Secret", &[("10001", "Task")], &[BOB_KEY]);
    j.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    j.add_issue(10046, "ABC-2", "Login fails for bob", &[]);
    j.add_issue(10047, "SEC-1", "Secret login plan", &[BOB_KEY]);
    w.link(ALICE_KEY, ALICE_OID).await;
    w.link(BOB_KEY, BOB_OID).await;
    Setup(b)
}

/// A Teams user: `29:` id, Entra object id, personal conversation.
#[derive(Clone, Copy)]
struct User(&'static str, &'static str, &'static str);
const ALICE: User = User("29:alice", ALICE_OID, "a:1alice-personal");
const BOB: User = User("29:bob", BOB_OID, "a:1bob-personal");
const CAROL: User = User("29:carol", CAROL_OID, "a:1carol-personal");

impl Setup {
    async fn post(&self, activity: Value) -> reqwest::Response {
        self.post_signed(&activity).await
    }

    fn activity(&self, u: User, kind: &str, id: &str) -> Value {
        json!({
            "type": kind, "id": id, "channelId": "msteams", "serviceUrl": self.bot.service_url(),
            "from": {"id": u.0, "aadObjectId": u.1, "name": "Someone"},
            "recipient": {"id": format!("28:{BOT_ID}")},
            "conversation": {"id": u.2, "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
        })
    }

    /// Sends a message (text or a card's submitted `value`) and returns the answers that
    /// arrive in the user's conversation after it.
    async fn say(&self, u: User, id: &str, text: Option<&str>, value: Option<Value>) -> Vec<Value> {
        let before = self.bot.received_for(u.2).len();
        let mut a = self.activity(u, "message", id);
        if let Some(t) = text {
            a["text"] = json!(t);
        }
        if let Some(v) = value {
            a["value"] = v;
        }
        let res = self.post(a).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let until = Instant::now() + Duration::from_secs(10);
        while self.bot.received_for(u.2).len() == before {
            assert!(Instant::now() < until, "no answer to {text:?}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        // a moment for a second answer that should not come
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        self.bot.received_for(u.2)[before..].to_vec()
    }

    async fn invoke(&self, u: User, name: &str, value: Value) -> Value {
        let mut a = self.activity(u, "invoke", &format!("inv-{}", uuid::Uuid::new_v4()));
        a["name"] = json!(name);
        a["value"] = value;
        let started = Instant::now();
        let res = self.post(a).await;
        assert_eq!(res.status(), 200, "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
        res.json().await.unwrap()
    }

    fn base(&self) -> String {
        self.w.jira.base.clone()
    }

    fn target(&self, project: &str, type_id: &str) -> String {
        format!("{}:{project}:{type_id}", self.w.jira_app.public_id)
    }
}

/// The texts of every TextBlock in a message's cards.
fn texts(messages: &[Value]) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str(m["text"].as_str().unwrap_or_default());
        out.push('\n');
        for a in m["attachments"].as_array().into_iter().flatten() {
            for b in a["content"]["body"].as_array().into_iter().flatten() {
                out.push_str(b["text"].as_str().unwrap_or_default());
                out.push('\n');
            }
        }
    }
    out
}

fn input<'a>(card: &'a Value, id: &str) -> &'a Value {
    card["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("no input {id} in {card}"))
}

fn choices(card: &Value) -> Vec<String> {
    input(card, "target")["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn find_as_a_linked_user_lists_only_the_issues_that_user_can_see() {
    let s = setup().await;
    let alice = texts(&s.say(ALICE, "m1", Some("find login"), None).await);
    assert!(
        alice.contains("SEC-1") && alice.contains("ABC-2"),
        "{alice}"
    );
    assert!(
        alice.contains(&format!("({}/browse/ABC-2)", s.base())),
        "{alice}"
    );
    let bob = texts(
        &s.say(BOB, "m2", Some("<at>Jira</at> find login"), None)
            .await,
    );
    assert!(
        bob.contains("ABC-2") && bob.contains("Login fails for bob"),
        "{bob}"
    );
    assert!(!bob.contains("SEC-1") && !bob.contains("Secret"), "{bob}");
    // a key Bob may not see is simply not found: its existence is not told
    let bob_key = texts(&s.say(BOB, "m3", Some("find sec-1"), None).await);
    assert!(
        bob_key.contains("No issue you can see matches"),
        "{bob_key}"
    );
    assert!(!bob_key.contains("Secret"), "{bob_key}");
    let alice_key = texts(&s.say(ALICE, "m4", Some("find sec-1"), None).await);
    assert!(alice_key.contains("Secret login plan"), "{alice_key}");
    assert_eq!(
        s.w.jira.searched_jql(),
        [
            r#"text ~ "login""#,
            r#"text ~ "login""#,
            r#"key = "SEC-1""#,
            r#"key = "SEC-1""#
        ]
    );
}

#[actix_web::test]
async fn a_jql_injection_attempt_in_find_stays_a_text_search() {
    let s = setup().await;
    let answer = texts(
        &s.say(
            BOB,
            "m1",
            Some(r#"find login" OR project = SEC OR summary ~ "secret \" ) OR (key = SEC-1"#),
            None,
        )
        .await,
    );
    // the answer repeats what Bob typed, but nothing of the hidden issue
    assert!(
        !answer.contains("Secret login plan") && !answer.contains("/browse/SEC-1"),
        "{answer}"
    );
    assert!(answer.contains("No issue you can see matches"), "{answer}");
    assert_eq!(
        s.w.jira.searched_jql(),
        [r#"text ~ "login or project sec or summary secret or key sec 1""#]
    );
}

#[actix_web::test]
async fn an_unlinked_user_is_asked_to_link_and_jira_is_not_asked() {
    let s = setup().await;
    let answer = texts(&s.say(CAROL, "m1", Some("find printer"), None).await);
    assert!(answer.to_lowercase().contains("link"), "{answer}");
    assert!(!answer.contains("Printer on fire"), "{answer}");
    let form = texts(&s.say(CAROL, "m2", Some("create Something"), None).await);
    assert!(form.to_lowercase().contains("link"), "{form}");
    assert!(s.w.jira.searched_jql().is_empty());
    assert!(s.w.jira.created().is_empty());
}

#[actix_web::test]
async fn the_search_extension_answers_cards_with_previews_page_by_page() {
    let s = setup().await;
    let query = |skip: u64| {
        json!({"commandId": "search", "parameters": [{"name": "q", "value": "login"}],
               "queryOptions": {"skip": skip, "count": 1}})
    };
    let first = s.invoke(ALICE, "composeExtension/query", query(0)).await;
    let r = &first["composeExtension"];
    assert_eq!(r["type"], "result");
    assert_eq!(r["attachmentLayout"], "list");
    let a = &r["attachments"].as_array().unwrap()[..];
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(a[0]["content"]["type"], "AdaptiveCard");
    assert_eq!(
        a[0]["preview"]["contentType"],
        "application/vnd.microsoft.card.thumbnail"
    );
    assert_eq!(a[0]["preview"]["content"]["title"], "SEC-1");
    let second = s.invoke(ALICE, "composeExtension/query", query(1)).await;
    assert_eq!(
        second["composeExtension"]["attachments"][0]["preview"]["content"]["title"],
        "ABC-2"
    );
    let third = s.invoke(ALICE, "composeExtension/query", query(2)).await;
    assert_eq!(third["composeExtension"]["attachments"], json!([]));
    // Bob's pages never hold the hidden issue
    let bob = s.invoke(BOB, "composeExtension/query", query(0)).await;
    assert_eq!(
        bob["composeExtension"]["attachments"][0]["preview"]["content"]["title"],
        "ABC-2"
    );
    // the first open (initialRun) gets a hint, not an error
    let initial = s
        .invoke(
            ALICE,
            "composeExtension/query",
            json!({"commandId": "search", "parameters": [{"name": "initialRun", "value": "true"}]}),
        )
        .await;
    assert_eq!(initial["composeExtension"]["type"], "message");
    // Carol is asked to link (an auth reply when linking from Teams is available)
    let carol = s.invoke(CAROL, "composeExtension/query", query(0)).await;
    let kind = carol["composeExtension"]["type"].as_str().unwrap();
    assert!(kind == "auth" || kind == "message", "{carol}");
    assert!(carol["composeExtension"]["attachments"].is_null());
    assert!(!carol.to_string().contains("login"), "{carol}");
}

#[actix_web::test]
async fn the_create_card_creates_the_issue_as_the_sender_exactly_once() {
    let s = setup().await;
    let answer = s
        .say(ALICE, "m1", Some("create Printer is on fire again"), None)
        .await;
    assert_eq!(answer.len(), 1);
    let form = &answer[0]["attachments"][0]["content"];
    assert_eq!(input(form, "summary")["value"], "Printer is on fire again");
    // every creatable type over the createmeta pages, sub-tasks left out; Alice sees SEC
    assert_eq!(
        choices(form),
        [
            s.target("ABC", "10001"),
            s.target("ABC", "10002"),
            s.target("ABC", "10004"),
            s.target("SEC", "10001")
        ]
    );
    let submit = form["actions"][0]["data"].clone();
    assert_eq!(submit["action"], "createIssue");
    let mut value = submit.clone();
    value["target"] = json!(s.target("ABC", "10002"));
    value["summary"] = json!("Printer is on fire again");
    value["description"] = json!("Smoke *everywhere*");
    let created = s.say(ALICE, "m-submit-1", None, Some(value.clone())).await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["text"], "Created ABC-3");
    let card = &created[0]["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "ABC-3 · Printer is on fire again");
    assert_eq!(
        card["actions"][0]["url"],
        format!("{}/browse/ABC-3", s.base())
    );
    let made = s.w.jira.created();
    assert_eq!(made.len(), 1);
    assert_eq!(
        (made[0].key.as_str(), made[0].creator.as_str()),
        ("ABC-3", ALICE_KEY)
    );
    assert_eq!(made[0].fields["issuetype"]["id"], "10002");
    assert_eq!(made[0].fields["description"], "Smoke *everywhere*");

    // Teams sends the same activity again: nothing new in Jira, no second answer
    let mut again = s.activity(ALICE, "message", "m-submit-1");
    again["value"] = value.clone();
    assert_eq!(s.post(again).await.status(), 200);
    // and a second click on the same card is told what the first one made
    let second = texts(&s.say(ALICE, "m-submit-2", None, Some(value)).await);
    assert!(second.contains("already created ABC-3"), "{second}");
    assert_eq!(s.bot.received_for(ALICE.2).len(), 3);
    assert_eq!(s.w.jira.created().len(), 1);

    // Bob's form offers only what Bob may use
    let bob = s.say(BOB, "b1", Some("create x"), None).await;
    let bob_form = &bob[0]["attachments"][0]["content"];
    assert!(!choices(bob_form).iter().any(|c| c.contains(":SEC:")));
}

#[actix_web::test]
async fn a_refused_or_incomplete_card_creates_nothing_and_says_why() {
    let s = setup().await;
    s.w.jira
        .require_field("ABC", "customfield_10010", "Team is required.");
    let value = json!({"action": "createIssue", "nonce": "n-1", "target": s.target("ABC", "10001"),
                       "summary": "Needs a team", "description": ""});
    let refused = texts(&s.say(ALICE, "m1", None, Some(value.clone())).await);
    assert!(
        refused.contains("Jira refused: customfield_10010: Team is required."),
        "{refused}"
    );
    let mut empty = value.clone();
    empty["summary"] = json!("   ");
    let blank = texts(&s.say(ALICE, "m2", None, Some(empty)).await);
    assert!(blank.contains("Enter a summary."), "{blank}");
    // a target Bob may not use is refused by Jira as Bob (he cannot see SEC)
    let mut sec = value.clone();
    sec["target"] = json!(s.target("SEC", "10001"));
    sec["nonce"] = json!("n-bob");
    let bob = texts(&s.say(BOB, "b1", None, Some(sec)).await);
    assert!(bob.contains("project: valid project is required"), "{bob}");
    assert!(s.w.jira.created().is_empty());
    // without Create permission Jira says 403, and that is shown too
    s.w.jira.deny_create("ABC", BOB_KEY);
    let mut denied = value.clone();
    denied["nonce"] = json!("n-bob-2");
    let bob = texts(&s.say(BOB, "b2", None, Some(denied)).await);
    assert!(
        bob.contains("You do not have permission to create issues"),
        "{bob}"
    );
    assert!(s.w.jira.created().is_empty());
    // the refusal gave the form back: once fixed in Jira, the same form works
    s.w.jira.work.projects.lock().unwrap()[0].required.clear();
    let ok = texts(&s.say(ALICE, "m3", None, Some(value)).await);
    assert!(ok.contains("Created ABC-3"), "{ok}");
}

#[actix_web::test]
async fn the_message_action_prefills_from_sanitised_html_and_creates_as_the_sender() {
    let s = setup().await;
    let payload = json!({
        "id": "1700000000000", "createdDateTime": "2026-01-01T10:00:00Z",
        "linkToMessage": "https://teams.microsoft.com/l/message/19:abc@thread.v2/1700000000000",
        "body": {"contentType": "html", "content":
            "<p>Printer <b>jammed</b> &amp; smoking<script>alert(1)</script></p><p onclick=\"x()\">Tray 2 <img src=\"https://graph.microsoft.com/x\" onerror=\"y()\">again</p>"},
        "from": {"user": {"id": BOB_OID, "displayName": "Bob Brown"}},
    });
    let fetched = s
        .invoke(
            BOB,
            "composeExtension/fetchTask",
            json!({"commandId": "createFromMessage", "commandContext": "message", "messagePayload": payload}),
        )
        .await;
    assert_eq!(fetched["task"]["type"], "continue", "{fetched}");
    let task = &fetched["task"]["value"];
    assert_eq!(
        task["card"]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &task["card"]["content"];
    assert_eq!(input(card, "summary")["value"], "Printer jammed & smoking");
    let description = input(card, "description")["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        description.starts_with("Printer *jammed* & smoking\n\nTray 2 again"),
        "{description}"
    );
    assert!(
        description.contains("[Teams message|https://teams.microsoft.com/l/message/"),
        "{description}"
    );
    for gone in ["<", "alert", "onclick", "onerror", "graph.microsoft.com"] {
        assert!(!description.contains(gone), "{gone} in {description}");
    }
    assert!(
        !choices(card).iter().any(|c| c.contains(":SEC:")),
        "Bob cannot see SEC"
    );

    let mut data = card["actions"][0]["data"].clone();
    data["target"] = json!(s.target("ABC", "10002"));
    data["summary"] = json!("Printer jammed & smoking");
    data["description"] = json!(description);
    let submit = |data: Value| json!({"commandId": "createFromMessage", "commandContext": "message", "data": data});
    let done = s
        .invoke(BOB, "composeExtension/submitAction", submit(data.clone()))
        .await;
    assert_eq!(
        done,
        json!({"task": {"type": "message", "value": "Created ABC-3"}})
    );
    let made = s.w.jira.created();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].creator, BOB_KEY);
    assert!(
        !made[0].fields["description"]
            .as_str()
            .unwrap()
            .contains('<')
    );
    // the same dialog sent again answers the same and creates nothing more
    let again = s
        .invoke(BOB, "composeExtension/submitAction", submit(data.clone()))
        .await;
    assert_eq!(again, done);
    assert_eq!(s.w.jira.created().len(), 1);

    // Jira's 400 is shown in the dialog, which stays open with the inputs kept
    s.w.jira
        .require_field("ABC", "customfield_10010", "Team is required.");
    data["nonce"] = json!("another-dialog");
    let refused = s
        .invoke(BOB, "composeExtension/submitAction", submit(data))
        .await;
    assert_eq!(refused["task"]["type"], "continue", "{refused}");
    let card = &refused["task"]["value"]["card"]["content"];
    assert!(card.to_string().contains("Team is required."), "{card}");
    assert_eq!(input(card, "summary")["value"], "Printer jammed & smoking");
    assert_eq!(input(card, "target")["value"], s.target("ABC", "10002"));
    assert_eq!(s.w.jira.created().len(), 1);

    // Carol, unlinked, is asked to link and gets no form
    let carol = s
        .invoke(
            CAROL,
            "composeExtension/fetchTask",
            json!({"commandId": "createFromMessage", "messagePayload": payload}),
        )
        .await;
    assert!(carol.get("task").is_none(), "{carol}");
    assert_eq!(carol["composeExtension"]["type"], "auth", "{carol}");
}

#[actix_web::test]
async fn a_pasted_issue_link_unfurls_only_for_a_user_who_may_see_the_issue() {
    let s = setup().await;
    let link = |key: &str| json!({"url": format!("{}/browse/{key}", s.base())});
    let alice = s
        .invoke(ALICE, "composeExtension/queryLink", link("ABC-1"))
        .await;
    let a = alice["composeExtension"]["attachments"].as_array().unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["preview"]["content"]["title"], "ABC-1");
    assert_eq!(
        a[0]["content"]["body"][0]["text"],
        "ABC-1 · Printer on fire"
    );
    assert_eq!(
        a[0]["content"]["actions"][0]["url"],
        format!("{}/browse/ABC-1", s.base())
    );
    // a board link naming the issue works too
    let board = json!({"url": format!("{}/secure/RapidBoard.jspa?rapidView=1&selectedIssue=ABC-2", s.base())});
    let b = s.invoke(ALICE, "composeExtension/queryLink", board).await;
    assert_eq!(
        b["composeExtension"]["attachments"][0]["preview"]["content"]["title"],
        "ABC-2"
    );

    // Bob may not see SEC-1: no card, nothing of it
    let hidden = s
        .invoke(BOB, "composeExtension/queryLink", link("SEC-1"))
        .await;
    assert_eq!(hidden["composeExtension"]["attachments"], json!([]));
    assert!(!hidden.to_string().contains("Secret"));

    // Carol is not linked: asked to link, shown nothing of the issue
    let carol = s
        .invoke(CAROL, "composeExtension/queryLink", link("ABC-1"))
        .await;
    assert!(!carol.to_string().contains("Printer"), "{carol}");
    assert_eq!(carol["composeExtension"]["type"], "auth", "{carol}");

    // a host that is not a registered instance is never asked
    let requests = s.w.jira.requests.lock().unwrap().len();
    for url in [
        "https://evil.example/jira/browse/ABC-1".to_owned(),
        s.base().replace("/jira", "/other") + "/browse/ABC-1",
        s.base().replace("http://", "https://") + "/browse/ABC-1",
    ] {
        let r = s
            .invoke(ALICE, "composeExtension/queryLink", json!({"url": url}))
            .await;
        assert_eq!(r["composeExtension"]["attachments"], json!([]), "{url}");
    }
    assert_eq!(s.w.jira.requests.lock().unwrap().len(), requests);
    // anonymous unfurls carry no issue data
    let anon = s
        .invoke(ALICE, "composeExtension/anonymousQueryLink", link("ABC-1"))
        .await;
    assert!(!anon.to_string().contains("Printer"), "{anon}");
}

#[actix_web::test]
async fn the_search_double_evaluates_a_subscription_jql_against_one_issue_as_the_user() {
    let s = setup().await;
    let instance =
        jira_teams_bridge::services::connections::instance(&s.w.app.state, s.w.instance_id)
            .await
            .unwrap();
    let mapping = {
        let mut conn = s.w.conn();
        jira_teams_bridge::db::models::user_mapping::UserMapping::find(
            &mut conn,
            s.w.instance_id,
            BOB_KEY,
        )
        .unwrap()
        .unwrap()
    };
    let (token, jira) = jira_teams_bridge::services::tokens::jira_token(
        &s.w.app.state,
        &instance,
        &mapping,
        &jira_teams_bridge::db::models::audit::Actor::System("test".into()),
        "test",
    )
    .await
    .unwrap();
    use jira_teams_bridge::clients::jira::{JiraCallError, SearchQuery};
    let count = |jql: &str, validate: bool| {
        let mut q = SearchQuery::new(jql, 1);
        q.fields = vec!["id".into()];
        q.validate_query = validate;
        let (jira, token) = (jira.clone(), token.clone());
        async move { jira.search(&token, &q).await.map(|p| p.total) }
    };
    assert_eq!(
        count(
            "(project = ABC AND text ~ \"printer\") AND issue = 10045",
            false
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        count(
            "(project = ABC AND summary ~ \"login\") AND issue = 10045",
            false
        )
        .await
        .unwrap(),
        0
    );
    // hidden from Bob: no hit without validation, an error with it
    assert_eq!(
        count("(project = ABC) AND issue = 10047", false)
            .await
            .unwrap(),
        0
    );
    match count("issue = 10047", true).await {
        Err(JiraCallError::Refused(r)) => assert!(r.0.contains("does not exist"), "{r}"),
        other => panic!("{other:?}"),
    }
    match count("project = ABC OR priority = High", true).await {
        Err(JiraCallError::Refused(r)) => {
            assert!(r.0.starts_with("Error in the JQL Query:"), "{r}")
        }
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn a_slow_jira_still_gets_an_answer_within_the_teams_time_limit() {
    let s = setup().await;
    // Jira throttles with a 10 s Retry-After: the appliance stops waiting after its 3 s limit
    s.w.jira.throttle_next(5, 10);
    let started = Instant::now();
    let r = s
        .invoke(
            ALICE,
            "composeExtension/query",
            json!({"commandId": "search", "parameters": [{"name": "q", "value": "printer"}]}),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(r["composeExtension"]["type"], "message", "{r}");
    assert!(
        r["composeExtension"]["text"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{r}"
    );
    assert!(took < Duration::from_millis(4500), "{took:?}");
}
