//! What happens to a linked chat's remote link when Jira will not take it, and to the optional
//! comment: Jira's refusals (403 without *Link Issues*, 400 with linking off) are kept with Jira's
//! words on the link and the delivery queue and not retried, until an admin retries them; a
//! revoked consent or a creator without a Jira link means "sign in again"; throttling and server
//! errors are retried until the one link is written; the comment is written once, internal in a
//! service desk.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use jira_teams_bridge::db::models::outbox::OutboxItem;
use jira_teams_bridge::db::schema::outbox;

use crate::jira_remote_link_delivery::{
    link_by_id, link_in_state, save_settings, the_one_remote_link,
};
use crate::support::wait::{eventually, outbox_settled};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_OID, CAROL_KEY, CAROL_OID, ISSUE, World, api, create_chat,
    link_alice_and_bob, linked_world, world_with,
};

/// (attempts, status, last error) of the outbox items of `kind`.
fn items(w: &World, kind: &str) -> Vec<(i32, String, Option<String>)> {
    outbox::table
        .filter(outbox::kind.eq(kind))
        .order(outbox::id)
        .select((outbox::attempts, outbox::status, outbox::last_error))
        .load(&mut w.conn())
        .unwrap()
}

/// A world whose outbox retries after 100 ms instead of 5 s, with ABC-1, Alice and Bob.
async fn quick_retries() -> World {
    let w = world_with(|s| s.outbox.backoff_base_ms = 100).await;
    link_alice_and_bob(&w).await;
    w
}

/// A Graph chat of Alice and Bob with a topic (so the remote link needs no Jira call but its
/// write).
fn graph_chat(w: &World) -> String {
    w.graph
        .create_chat_directly(&[ALICE_OID, BOB_OID], Some("Incident bridge"))
}

/// Waits for the refusal of the chat's remote link and checks that it is shown, with Jira's
/// words, on the link and on the delivery queue, and was tried once.
async fn refused_and_shown(w: &World, chat: &str, words: &str) {
    let link = link_in_state(w, chat, "refused").await;
    assert!(
        link.remote_link_detail
            .as_deref()
            .is_some_and(|d| d.contains(words)),
        "{:?}",
        link.remote_link_detail
    );
    outbox_settled(&w.app.db.url, 10).await;
    let upserts = items(w, "jira_remote_link");
    assert_eq!(upserts.len(), 1);
    assert_eq!(
        (upserts[0].0, upserts[0].1.as_str()),
        (1, "dead"),
        "not retried"
    );
    let queue = w.app.get("/admin/outbox").await.text().await.unwrap();
    assert!(
        queue.contains(words),
        "the reason is on the delivery queue: {queue}"
    );
    assert!(w.jira.remote_links(ISSUE).is_empty());
}

#[actix_web::test]
async fn a_creator_without_link_issues_gets_the_link_refused_with_jiras_words_and_an_admin_can_retry_it()
 {
    let w = linked_world().await;
    w.jira.deny_linking(ALICE_KEY);
    let chat = create_chat(&w).await;
    refused_and_shown(
        &w,
        &chat,
        "You do not have the permission to link issues in this project.",
    )
    .await;
    // Jira's admin grants the permission; the admin retries the failed delivery
    w.jira.links.lock().unwrap().no_link_permission.clear();
    let dead = OutboxItem::dead(&mut w.conn(), 10).unwrap();
    let res = w
        .app
        .post_form(&format!("/admin/outbox/{}/retry", dead[0].id), &[])
        .await;
    assert_eq!(res.status(), 303);
    the_one_remote_link(&w, ISSUE).await;
    let link = link_in_state(&w, &chat, "linked").await;
    assert_eq!(link.remote_link_detail, None);
}

#[actix_web::test]
async fn issue_linking_switched_off_in_jira_is_a_refusal_too() {
    let w = linked_world().await;
    w.jira.set_linking_disabled(true);
    let chat = graph_chat(&w);
    link_by_id(&w, &chat).await;
    refused_and_shown(&w, &chat, "Issue linking is currently disabled.").await;
}

#[actix_web::test]
async fn a_creator_whose_jira_consent_was_revoked_must_sign_in_again() {
    let w = linked_world().await;
    w.jira.revoke_user(ALICE_KEY);
    let chat = graph_chat(&w);
    link_by_id(&w, &chat).await;
    let link = link_in_state(&w, &chat, "needs_sign_in").await;
    assert!(
        link.remote_link_detail
            .as_deref()
            .is_some_and(|d| d.contains("sign in with Jira again")),
        "{:?}",
        link.remote_link_detail
    );
    outbox_settled(&w.app.db.url, 10).await;
    let upserts = items(&w, "jira_remote_link");
    assert_eq!((upserts[0].0, upserts[0].1.as_str()), (1, "dead"));
    assert!(w.jira.remote_links(ISSUE).is_empty());
}

#[actix_web::test]
async fn a_chat_linked_by_someone_who_never_linked_their_accounts_waits_for_their_sign_in_then_appears()
 {
    let w = linked_world().await;
    let chat = w
        .graph
        .create_chat_directly(&[CAROL_OID, BOB_OID], Some("Carol's chat"));
    let (status, body) = api(
        &w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats"),
        CAROL_KEY,
        Some(serde_json::json!({ "chatId": chat })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let link = link_in_state(&w, &chat, "needs_sign_in").await;
    assert!(
        link.remote_link_detail
            .as_deref()
            .is_some_and(|d| d.contains("has not linked their Jira account")),
        "{:?}",
        link.remote_link_detail
    );
    assert!(w.jira.remote_links(ISSUE).is_empty());
    // once Carol links her accounts, the link she made shows in the issue without anyone's help
    assert_eq!(w.link(CAROL_KEY, CAROL_OID).await.0, 200);
    link_in_state(&w, &chat, "linked").await;
    let links = w.jira.remote_links(ISSUE);
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].1["object"]["title"], "Carol's chat");
}

#[actix_web::test]
async fn jira_throttling_is_waited_out_and_ends_in_one_link() {
    let w = quick_retries().await;
    let chat = graph_chat(&w);
    // more 429s than one delivery's own retries take: the outbox schedules the rest
    w.jira.throttle_next(4, 1);
    let started = Instant::now();
    link_by_id(&w, &chat).await;
    the_one_remote_link(&w, ISSUE).await;
    link_in_state(&w, &chat, "linked").await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    outbox_settled(&w.app.db.url, 10).await;
    let upserts = items(&w, "jira_remote_link");
    assert_eq!(
        (upserts[0].0, upserts[0].1.as_str()),
        (2, "done"),
        "{upserts:?}"
    );
    assert_eq!(w.jira.remote_links(ISSUE).len(), 1);
}

#[actix_web::test]
async fn jira_server_errors_are_retried_until_the_link_is_written() {
    let w = quick_retries().await;
    w.jira.fail_link_writes(2, 500);
    let chat = graph_chat(&w);
    link_by_id(&w, &chat).await;
    the_one_remote_link(&w, ISSUE).await;
    link_in_state(&w, &chat, "linked").await;
    outbox_settled(&w.app.db.url, 10).await;
    let upserts = items(&w, "jira_remote_link");
    assert_eq!(
        (upserts[0].0, upserts[0].1.as_str()),
        (3, "done"),
        "{upserts:?}"
    );
    assert_eq!(w.jira.link_writes(), (3, 3));
    assert_eq!(w.jira.remote_links(ISSUE).len(), 1);
}

#[actix_web::test]
async fn the_comment_option_writes_one_comment_as_the_creator_and_no_more_when_the_chat_changes() {
    let w = linked_world().await;
    assert_eq!(save_settings(&w, true, true).await.status(), 303);
    let chat = create_chat(&w).await;
    let link = the_one_remote_link(&w, ISSUE).await;
    eventually("the comment", 20, || w.jira.comments_of(ISSUE).len() == 1).await;
    let url = link["object"]["url"].as_str().unwrap();
    let (author, body, properties) = w.jira.comments_of(ISSUE)[0].clone();
    assert_eq!(author, ALICE_KEY);
    assert_eq!(
        body,
        format!("Teams chat started: ABC-1: Printer on fire {url}")
    );
    assert_eq!(
        properties,
        serde_json::json!([]),
        "not a service desk: no property"
    );
    // sharing rewrites the link, and writes no second comment
    let (status, _) = api(
        &w,
        "PUT",
        &format!("/api/v1/issues/{ISSUE}/chats/{chat}/access"),
        ALICE_KEY,
        Some(serde_json::json!({"publicAccess": "share"})),
    )
    .await;
    assert_eq!(status, 200);
    eventually("the shared summary", 20, || {
        w.jira.remote_links(ISSUE)[0].1["object"]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Shared"))
    })
    .await;
    outbox_settled(&w.app.db.url, 10).await;
    assert_eq!(w.jira.comments_of(ISSUE).len(), 1);
}

#[actix_web::test]
async fn in_a_service_desk_project_the_comment_is_internal_and_without_it_there_is_none() {
    let w = linked_world().await;
    w.jira.set_project_type("ABC", "service_desk");
    // off by default: the link, and no comment
    let first = graph_chat(&w);
    link_by_id(&w, &first).await;
    the_one_remote_link(&w, ISSUE).await;
    outbox_settled(&w.app.db.url, 10).await;
    assert!(w.jira.comments_of(ISSUE).is_empty());
    assert_eq!(save_settings(&w, true, true).await.status(), 303);
    let second = w
        .graph
        .create_chat_directly(&[ALICE_OID, BOB_OID], Some("Customer call [urgent]"));
    link_by_id(&w, &second).await;
    eventually("the comment", 20, || w.jira.comments_of(ISSUE).len() == 1).await;
    let (_, body, properties) = w.jira.comments_of(ISSUE)[0].clone();
    assert!(
        body.starts_with("Teams chat started: Customer call \\[urgent\\] "),
        "the topic is text, not markup: {body}"
    );
    assert_eq!(
        properties,
        serde_json::json!([{"key": "sd.public.comment", "value": {"internal": true}}]),
        "agents only, never the customer"
    );
}
