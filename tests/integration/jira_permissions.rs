//! The permission table of the issue pages (JIRA-SURFACE.md "The issue page"), one test per row:
//! who sees the page, which chats are listed, who reads (with whose token), who replies, who may
//! start a chat, and who shares and unlinks.

use diesel::prelude::*;
use jira_teams_bridge::db::schema::{issue_chat, jira_user_session, shared_chat_access};
use serde_json::json;

use crate::support::app::location;
use crate::support::issue_pages::{
    Seen, audited_reads, chat_path, chat_world, get, graph_requests_since, issue_path, outbox_rows,
    post,
};
use crate::support::jira_user::{csrf_of, open_signed_in, post_form, signed_in};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_KEY, CAROL_OID, ISSUE, World, api, browser,
    follow,
};

const TOPIC: &str = "ABC-1: Printer on fire";
const SHARED_READ: &str = "shared chat read by Jira user";

fn links(w: &World) -> i64 {
    issue_chat::table.count().get_result(&mut w.conn()).unwrap()
}

fn is_shared(w: &World, link: uuid::Uuid) -> bool {
    shared_chat_access::table
        .filter(shared_chat_access::issue_chat_id.eq(link))
        .select(shared_chat_access::restrictions)
        .first::<serde_json::Value>(&mut w.conn())
        .optional()
        .unwrap()
        .is_some_and(|r| r["publicAccess"] == "share")
}

fn assert_page(s: &Seen, status: u16, text: &str) {
    assert_eq!(s.status, status, "{}", s.html);
    assert!(s.html.contains(text), "expected {text:?} in {}", s.html);
}

async fn share_as_alice(w: &World, chat: &str) {
    let (status, _) = api(
        w,
        "PUT",
        &format!("/api/v1/issues/{ISSUE}/chats/{chat}/access"),
        ALICE_KEY,
        Some(json!({"publicAccess": "share"})),
    )
    .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn not_signed_in_every_issue_page_and_form_sends_the_browser_to_sign_in_with_jira_and_back() {
    let (w, _, link) = chat_world().await;
    let b = browser();
    let pid = w.jira_app.public_id.clone();
    for path in [
        issue_path(&w, ISSUE),
        chat_path(&w, link),
        format!("{}/start", issue_path(&w, ISSUE)),
    ] {
        let s = get(&w, &b, &path).await;
        assert_eq!(s.status, 303, "{path}");
        let to = url::Url::parse(&w.app.url(&s.location.unwrap())).unwrap();
        assert_eq!(to.path(), "/auth/jira/signin");
        let q: Vec<(String, String)> = to.query_pairs().into_owned().collect();
        assert!(q.contains(&("i".into(), pid.clone())), "{q:?}");
        assert!(q.contains(&("next".into(), path.clone())), "{q:?}");
    }
    // a form posted without a session or CSRF token changes nothing (whichever of the two
    // checks answers first: the sign-in redirect or the CSRF refusal)
    let res = post_form(&w, &b, &format!("{}/unlink", chat_path(&w, link)), &[]).await;
    assert!(
        [303, 403].contains(&res.status().as_u16()),
        "{}",
        res.status()
    );
    assert_eq!(links(&w), 1, "the chat is still linked");
    // one posted after the session lapsed signs in again and comes back to the chat, unchanged
    let alice = signed_in(&w, ALICE_KEY).await;
    let csrf = csrf_of(&w, &alice, &format!("/jira/{pid}/me")).await;
    diesel::delete(jira_user_session::table)
        .execute(&mut w.conn())
        .unwrap();
    let share = format!("{}/share", chat_path(&w, link));
    let res = post_form(&w, &alice, &share, &[("csrf", &csrf), ("to", "shared")]).await;
    assert_eq!(res.status(), 303);
    let (res, seen) = follow(&alice, &w.app.url(&location(&res))).await;
    assert_eq!(res.status(), 200, "{seen:?}");
    assert_eq!(seen.last().unwrap(), &w.app.url(&chat_path(&w, link)));
    assert!(!is_shared(&w, link), "the form was not acted on");
    // the remote link's URL, opened by the creator, signs in and lands on the chat
    let (_, res, seen) = open_signed_in(&w, ALICE_KEY, &chat_path(&w, link)).await;
    assert_eq!(res.status(), 200, "{seen:?}");
    assert_eq!(seen.last().unwrap(), &w.app.url(&chat_path(&w, link)));
    assert!(res.text().await.unwrap().contains(TOPIC));
}

#[actix_web::test]
async fn when_jira_refuses_the_issue_the_user_sees_not_available_and_nothing_of_its_chats() {
    let (w, chat, link) = chat_world().await;
    share_as_alice(&w, &chat).await;
    w.jira
        .add_issue(10046, "ABC-2", "Secret plans", &[CAROL_KEY]);
    let carol = signed_in(&w, CAROL_KEY).await;
    // the issue exists (Jira says 403 to Carol) or does not (404): the same page either way
    w.jira
        .issues
        .lock()
        .unwrap()
        .get_mut("ABC-1")
        .unwrap()
        .hidden_from
        .push(CAROL_KEY.to_owned());
    let graph_before = w.graph.requests.lock().unwrap().len();
    for path in [
        issue_path(&w, ISSUE),
        issue_path(&w, "ABC-1"),
        issue_path(&w, 99999),
        issue_path(&w, 10046),
        chat_path(&w, link),
        format!("{}/start", issue_path(&w, ISSUE)),
    ] {
        let s = get(&w, &carol, &path).await;
        assert_page(&s, 404, "not available to you");
        assert!(!s.html.contains(TOPIC), "{path}: a chat shows");
        assert!(
            !s.html.contains("Printer on fire"),
            "{path}: the issue shows"
        );
        assert!(!s.html.contains("Teams chats"), "{path}: a chat list shows");
        assert!(
            !s.html.contains(&link.to_string()),
            "{path}: the link shows"
        );
    }
    let chat_url = chat_path(&w, link);
    for (action, fields) in [
        ("reply", vec![("text", "let me in")]),
        ("share", vec![("to", "private")]),
        ("unlink", vec![]),
    ] {
        let s = post(&w, &carol, &format!("{chat_url}/{action}"), &fields).await;
        assert_page(&s, 404, "not available to you");
    }
    assert!(
        graph_requests_since(&w, graph_before).is_empty(),
        "nothing is read from Teams for a user Jira refuses"
    );
    assert_eq!(links(&w), 1);
    assert!(is_shared(&w, link), "still shared");
    assert!(w.graph.messages(&chat).is_empty(), "nothing was posted");
}

#[actix_web::test]
async fn a_private_chat_is_hidden_from_others_who_see_the_issue_who_may_start_their_own_once_linked()
 {
    let (w, chat, link) = chat_world().await;
    w.graph.seed_messages(&chat, 2, ALICE_OID);
    let carol = signed_in(&w, CAROL_KEY).await;
    let s = get(&w, &carol, &issue_path(&w, ISSUE)).await;
    assert_page(&s, 200, "Printer on fire");
    assert!(!s.html.contains(TOPIC), "the private chat is listed");
    assert!(!s.html.contains(&link.to_string()));
    assert!(
        s.html
            .contains("No Teams chat of this issue is visible to you")
    );

    // the remote link's URL says it is private, without asking Teams
    let graph_before = w.graph.requests.lock().unwrap().len();
    let s = get(&w, &carol, &chat_path(&w, link)).await;
    assert_page(&s, 403, "private — ask the creator to share");
    assert!(!s.html.contains("message 1"));
    let s = post(
        &w,
        &carol,
        &format!("{}/reply", chat_path(&w, link)),
        &[("text", "hi")],
    )
    .await;
    assert_page(&s, 403, "private — ask the creator to share");
    let s = post(
        &w,
        &carol,
        &format!("{}/share", chat_path(&w, link)),
        &[("to", "shared")],
    )
    .await;
    assert_page(&s, 403, "private — ask the creator to share");
    assert!(graph_requests_since(&w, graph_before).is_empty());
    assert_eq!(w.graph.messages(&chat).len(), 2, "nothing was posted");
    assert!(!is_shared(&w, link));

    // starting a chat needs her own Microsoft link
    let start = format!("{}/start", issue_path(&w, ISSUE));
    let s = get(&w, &carol, &issue_path(&w, ISSUE)).await;
    assert!(
        s.html
            .contains("Link your Microsoft account to start a Teams chat")
    );
    assert!(!s.html.contains(&format!("href=\"{start}\"")));
    let s = get(&w, &carol, &start).await;
    assert_page(&s, 200, "link your Microsoft account first");
    assert!(!s.html.contains("name=\"upns\""), "no form without a link");
    assert_eq!(w.link(CAROL_KEY, CAROL_OID).await.0, 200);
    let s = get(&w, &carol, &issue_path(&w, ISSUE)).await;
    assert!(s.html.contains(&format!("href=\"{start}\"")), "{}", s.html);
    let s = get(&w, &carol, &start).await;
    assert_page(&s, 200, "name=\"upns\"");
}

#[actix_web::test]
async fn a_shared_chat_is_listed_and_read_with_the_creators_token_audited_but_only_members_reply_and_only_the_creator_manages()
 {
    let (w, chat, link) = chat_world().await;
    w.graph.seed_messages(&chat, 3, ALICE_OID);
    share_as_alice(&w, &chat).await;
    let carol = signed_in(&w, CAROL_KEY).await;
    let s = get(&w, &carol, &issue_path(&w, ISSUE)).await;
    assert_page(&s, 200, TOPIC);
    assert!(
        s.html
            .contains("shared with everyone who can see the issue")
    );

    let before = audited_reads(&w, &format!("{SHARED_READ} {CAROL_KEY} "));
    for _ in 0..2 {
        let s = get(&w, &carol, &chat_path(&w, link)).await;
        assert_page(&s, 200, "message 3");
        assert!(s.html.contains("with its creator's Microsoft account"));
        assert!(!s.html.contains("/reply\""), "a reply form is offered");
        assert!(!s.html.contains("/share\""), "a share form is offered");
        assert!(!s.html.contains("/unlink\""), "an unlink form is offered");
    }
    assert_eq!(
        audited_reads(&w, &format!("{SHARED_READ} {CAROL_KEY} ")) - before,
        2,
        "one audit row naming the reader per read"
    );

    let s = post(
        &w,
        &carol,
        &format!("{}/reply", chat_path(&w, link)),
        &[("text", "hi")],
    )
    .await;
    assert_page(&s, 403, "Only the chat&#39;s members can reply");
    assert_eq!(w.graph.messages(&chat).len(), 3, "nothing was posted");
    for (action, fields) in [("share", vec![("to", "private")]), ("unlink", vec![])] {
        let s = post(
            &w,
            &carol,
            &format!("{}/{action}", chat_path(&w, link)),
            &fields,
        )
        .await;
        assert_page(&s, 403, "Only the chat&#39;s creator");
    }
    assert!(is_shared(&w, link));
    assert_eq!(links(&w), 1);
}

#[actix_web::test]
async fn a_member_reads_with_their_own_token_and_replies_but_cannot_share_or_unlink() {
    let (w, chat, link) = chat_world().await;
    w.graph.seed_messages(&chat, 2, ALICE_OID);
    let bob = signed_in(&w, BOB_KEY).await;
    let s = get(&w, &bob, &issue_path(&w, ISSUE)).await;
    assert_page(&s, 200, TOPIC);
    assert!(s.html.contains("private to its members"));

    let before = audited_reads(&w, SHARED_READ);
    let s = get(&w, &bob, &chat_path(&w, link)).await;
    assert_page(&s, 200, "message 2");
    assert!(s.html.contains("Read with your Microsoft account"));
    assert!(s.html.contains("/reply\""), "a member gets the reply form");
    assert!(!s.html.contains("/share\""));
    assert!(!s.html.contains("/unlink\""));
    assert_eq!(audited_reads(&w, SHARED_READ), before, "not a shared read");

    let s = post(
        &w,
        &bob,
        &format!("{}/reply", chat_path(&w, link)),
        &[("text", "On it <b>now</b>")],
    )
    .await;
    assert_eq!(s.status, 303, "{}", s.html);
    assert_eq!(s.location.as_deref(), Some(chat_path(&w, link).as_str()));
    let last = w.graph.messages(&chat).last().cloned().unwrap();
    assert_eq!(last["from"]["user"]["id"], BOB_OID, "posted as Bob");
    assert_eq!(last["body"]["content"], "On it &lt;b&gt;now&lt;/b&gt;");
    let s = get(&w, &bob, &chat_path(&w, link)).await;
    assert!(
        s.html.contains("On it &lt;b&gt;now&lt;/b&gt;"),
        "{}",
        s.html
    );

    for (action, fields) in [("share", vec![("to", "shared")]), ("unlink", vec![])] {
        let s = post(
            &w,
            &bob,
            &format!("{}/{action}", chat_path(&w, link)),
            &fields,
        )
        .await;
        assert_page(&s, 403, "Only the chat&#39;s creator");
    }
    assert!(!is_shared(&w, link));
    assert_eq!(links(&w), 1);
}

#[actix_web::test]
async fn the_creator_reads_replies_starts_shares_makes_private_and_unlinks() {
    let (w, chat, link) = chat_world().await;
    w.graph.seed_messages(&chat, 1, BOB_OID);
    let alice = signed_in(&w, ALICE_KEY).await;
    let page = chat_path(&w, link);
    let s = get(&w, &alice, &page).await;
    assert_page(&s, 200, "message 1");
    for form in ["/reply\"", "/share\"", "/unlink\""] {
        assert!(s.html.contains(form), "{form} missing");
    }
    let s = post(&w, &alice, &format!("{page}/reply"), &[("text", "Thanks")]).await;
    assert_eq!(s.status, 303);
    assert_eq!(
        w.graph.messages(&chat).last().unwrap()["from"]["user"]["id"],
        ALICE_OID
    );

    let s = get(&w, &alice, &format!("{}/start", issue_path(&w, ISSUE))).await;
    assert_page(&s, 200, "name=\"upns\"");

    let upserts = outbox_rows(&w, "jira_remote_link").len();
    let s = post(&w, &alice, &format!("{page}/share"), &[("to", "shared")]).await;
    assert_eq!(
        (s.status, s.location.as_deref()),
        (303, Some(page.as_str()))
    );
    assert!(is_shared(&w, link));
    let s = get(&w, &alice, &page).await;
    assert!(s.html.contains("Make private"));
    let s = post(&w, &alice, &format!("{page}/share"), &[("to", "private")]).await;
    assert_eq!(s.status, 303);
    assert!(!is_shared(&w, link));
    assert_eq!(
        outbox_rows(&w, "jira_remote_link").len() - upserts,
        2,
        "each change rewrites the remote link"
    );

    let s = post(&w, &alice, &format!("{page}/unlink"), &[]).await;
    assert_eq!((s.status, s.location), (303, Some(issue_path(&w, ISSUE))));
    assert_eq!(links(&w), 0);
    let deletes = outbox_rows(&w, "jira_remote_link_delete");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].1["link"], json!(link));
    let s = get(&w, &alice, &page).await;
    assert_page(&s, 404, "No Teams chat with this link");
}
