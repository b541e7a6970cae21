//! Chat messages through the relay as Graph really returns them (issue 14): a page in the shape
//! of Graph's own example (`fixtures/graph/chat_messages_page.json`, its README names the real
//! shape) with a user's message, our own bot's card, another app's card with an empty body and a
//! system event. What the Jira app sees: the sender's name (the app's for app messages, and
//! which kind of sender it is), a one-line summary of each card, and the system event as one,
//! because the appliance asks Graph with `Prefer: include-unknown-enum-members`.

use serde_json::{Value, json};

use crate::support::world::{ALICE_KEY, BOB_OID, api, create_chat, linked_world, messages_path};

async fn read_page(w: &crate::support::world::World, chat: &str) -> Vec<Value> {
    let (status, page) = api(w, "GET", &messages_path(chat), ALICE_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn apps_are_named_with_their_cards_summarised_and_system_events_shown_as_such() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    w.graph
        .seed_page(&chat, &w.graph_page("chat_messages_page", &chat));

    let items = read_page(&w, &chat).await;
    let seen: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap(),
                m["fromKind"].as_str().unwrap_or("-"),
                m["fromName"].as_str().unwrap_or("-"),
                m["html"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "message",
                "user",
                "Bob B",
                "It is smoking again, I unplugged it."
            ),
            (
                "message",
                "application",
                "Jira",
                "<p>ABC-1 · Printer on fire — Dave D updated the issue — Changed: priority</p>"
            ),
            (
                "message",
                "application",
                "Lunch Polls",
                "<p>Lunch poll — Where shall we go on Friday?</p>"
            ),
            (
                "systemEventMessage",
                "-",
                "-",
                "<p><em>Chat renamed to “ABC-1 war room”</em></p>"
            ),
        ]
    );
    assert_eq!(items[0]["fromUserId"], BOB_OID);
    assert!(
        items[1]["fromUserId"].is_null(),
        "an app is not a user: {}",
        items[1]
    );
    // Graph was asked for the real name of the system event's type, every time
    let prefers = w.graph.prefers.lock().unwrap().clone();
    let listed: Vec<_> = prefers
        .iter()
        .filter(|(path, _)| path.contains("/messages"))
        .collect();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|(_, p)| p.as_deref() == Some("include-unknown-enum-members")),
        "{listed:?}"
    );
}

#[actix_web::test]
async fn hostile_or_broken_app_messages_show_as_text_and_never_break_the_page() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    let app = |id: &str, name: &str, body: &str, attachments: Value| {
        json!({
            "id": id, "messageType": "message", "createdDateTime": format!("2026-11-28T09:00:0{id}.000Z"),
            "from": {"application": {"id": "a1", "displayName": name, "applicationIdentityType": "bot"}, "device": null, "user": null},
            "body": {"contentType": "html", "content": body},
            "attachments": attachments, "eventDetail": null,
        })
    };
    let adaptive = |content: Value| json!([{"id": "x", "contentType": "application/vnd.microsoft.card.adaptive", "content": content}]);
    let long = "all work and no play ".repeat(30);
    let cards = [
        // script in a card's text, and a bold name: text, never markup
        app(
            "1",
            "<b>Evil</b> bot",
            "<attachment id=\"x\"></attachment>",
            adaptive(json!(
                json!({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "<script>alert(1)</script> & [click](javascript:alert(2))"}]})
                    .to_string()
            )),
        ),
        // not JSON at all
        app("2", "Broken", "", adaptive(json!("{\"type\": \"AdaptiveCard\", \"body\": ["))),
        // a card as long as a novel
        app(
            "3",
            "Chatty",
            "",
            adaptive(json!(
                json!({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": long}]})
                    .to_string()
            )),
        ),
        // an app message with neither text nor card
        app("4", "Silent", "", json!([])),
    ];
    w.graph.seed_page(&chat, &json!({ "value": cards }));

    let items = read_page(&w, &chat).await;
    let html = |name: &str| -> String {
        items
            .iter()
            .find(|m| m["fromName"] == name)
            .unwrap_or_else(|| panic!("no message from {name}: {items:?}"))["html"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(items.len(), 4);
    assert_eq!(
        html("<b>Evil</b> bot"),
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; click</p>"
    );
    assert_eq!(html("Broken"), "<p>Card</p>");
    let chatty = html("Chatty");
    assert!(
        chatty.starts_with("<p>all work and no play") && chatty.ends_with("…</p>"),
        "{chatty}"
    );
    assert!(
        chatty.chars().count() < 200,
        "one line, cut short: {chatty}"
    );
    assert_eq!(html("Silent"), "");
    assert!(items.iter().all(|m| m["fromKind"] == "application"));
}
