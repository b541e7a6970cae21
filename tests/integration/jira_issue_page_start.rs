//! Starting a Teams chat from the issue page (`…/issues/<id>/start`): the picker of users Jira
//! says may see the issue (marked linked or not, searchable), typed sign-in names, the picker
//! refused by Jira, bad forms; and what sharing and unlinking from the chat page leave behind.

use diesel::prelude::*;
use jira_teams_bridge::db::schema::issue_chat;

use crate::support::issue_pages::{chat_path, chat_world, get, issue_path, outbox_rows, post};
use crate::support::jira_user::{post_form, signed_in};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_KEY, CAROL_OID, CATALOG_ID, ISSUE, World,
    linked_world,
};

fn start_path(w: &World) -> String {
    format!("{}/start", issue_path(w, ISSUE))
}

fn chats_in_teams(w: &World) -> usize {
    w.graph.chats.lock().unwrap().len()
}

fn links(w: &World) -> i64 {
    issue_chat::table.count().get_result(&mut w.conn()).unwrap()
}

#[actix_web::test]
async fn the_picker_lists_who_may_see_the_issue_marked_linked_or_not_and_searches_by_name() {
    let w = linked_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let s = get(&w, &alice, &start_path(&w)).await;
    assert_eq!(s.status, 200, "{}", s.html);
    assert!(
        s.html.contains("ABC-1: Printer on fire"),
        "the topic it will get"
    );
    assert!(
        s.html
            .contains(&format!("name=\"member\" value=\"{BOB_KEY}\"")),
        "Bob is linked: {}",
        s.html
    );
    assert!(
        !s.html.contains(&format!("value=\"{CAROL_KEY}\"")),
        "Carol is not linked"
    );
    assert!(s.html.contains("carol (Jira)") && s.html.contains("not linked to Microsoft"));
    assert!(
        !s.html.contains(&format!("value=\"{ALICE_KEY}\"")),
        "not herself"
    );
    assert!(!s.html.contains("(alice)"), "not herself");
    let s = get(&w, &alice, &format!("{}?q=bo", start_path(&w))).await;
    assert!(s.html.contains("bob (Jira)") && !s.html.contains("carol (Jira)"));
    assert!(
        w.jira
            .requests_since(0, "/rest/api/2/user/viewissue/search")
            .iter()
            .any(|r| r.contains("issueKey=ABC-1") && r.contains("username=bo")),
        "Jira is asked, as the user, with the search text"
    );
}

#[actix_web::test]
async fn starting_a_chat_creates_it_in_teams_as_the_user_links_it_and_shows_it() {
    let w = linked_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let s = post(
        &w,
        &alice,
        &start_path(&w),
        &[("member", BOB_KEY), ("upns", "carol@contoso.example\n\n")],
    )
    .await;
    assert_eq!(s.status, 303, "{}", s.html);
    let (chat_id, link): (String, uuid::Uuid) = issue_chat::table
        .select((issue_chat::chat_id, issue_chat::id))
        .first(&mut w.conn())
        .unwrap();
    assert_eq!(s.location, Some(chat_path(&w, link)));
    let chat = w
        .graph
        .chats
        .lock()
        .unwrap()
        .get(&chat_id)
        .cloned()
        .unwrap();
    assert_eq!(chat.topic.as_deref(), Some("ABC-1: Printer on fire"));
    let mut members: Vec<String> = chat.members.iter().map(|m| m.oid.clone()).collect();
    members.sort();
    let mut want = vec![
        ALICE_OID.to_owned(),
        BOB_OID.to_owned(),
        CAROL_OID.to_owned(),
    ];
    want.sort();
    assert_eq!(members, want);
    assert!(
        w.graph
            .installs
            .lock()
            .unwrap()
            .contains(&(chat_id.clone(), CATALOG_ID.to_owned())),
        "the Teams app is added"
    );
    let queued = outbox_rows(&w, "jira_remote_link");
    assert_eq!(queued.len(), 1, "its remote link is queued");
    assert_eq!(queued[0].1["link"], serde_json::json!(link));
    let s = get(&w, &alice, &chat_path(&w, link)).await;
    assert_eq!(s.status, 200);
    assert!(s.html.contains("ABC-1: Printer on fire") && s.html.contains("Open in Teams"));
    assert!(s.html.contains("3 known"), "{}", s.html);
}

#[actix_web::test]
async fn when_jira_refuses_the_picker_only_sign_in_names_are_asked_for_and_they_work() {
    let w = linked_world().await;
    w.jira.deny_browse_users(ALICE_KEY);
    let alice = signed_in(&w, ALICE_KEY).await;
    let s = get(&w, &alice, &start_path(&w)).await;
    assert_eq!(s.status, 200);
    assert!(
        s.html
            .contains("Jira does not let you see who may browse this issue"),
        "{}",
        s.html
    );
    assert!(!s.html.contains("name=\"member\""));
    assert!(!s.html.contains("name=\"q\""), "no search without a picker");
    assert!(s.html.contains("name=\"upns\""));
    let s = post(
        &w,
        &alice,
        &start_path(&w),
        &[("upns", "bob@contoso.example")],
    )
    .await;
    assert_eq!(s.status, 303, "{}", s.html);
    assert_eq!(links(&w), 1);
}

#[actix_web::test]
async fn bad_start_forms_say_what_is_wrong_and_create_nothing() {
    let w = linked_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let many = (0..20)
        .map(|i| format!("user{i}@contoso.example"))
        .collect::<Vec<_>>()
        .join("\n");
    for (fields, status, text) in [
        (vec![], 400, "Pick or type 1 to 19 colleagues"),
        (
            vec![("upns", many.as_str())],
            400,
            "Pick or type 1 to 19 colleagues",
        ),
        (
            vec![("upns", "not a name")],
            400,
            "is not a Microsoft sign-in name",
        ),
        (
            vec![("member", CAROL_KEY)],
            422,
            "have not linked a Microsoft account",
        ),
        (
            vec![("upns", "nobody@contoso.example")],
            422,
            "Microsoft does not know one of the members",
        ),
    ] {
        let s = post(&w, &alice, &start_path(&w), &fields).await;
        assert_eq!(s.status, status, "{fields:?}: {}", s.html);
        assert!(s.html.contains(text), "{fields:?}: {}", s.html);
        assert!(s.html.contains("Back to the form"));
    }
    assert_eq!(chats_in_teams(&w), 0);
    assert_eq!(links(&w), 0);

    // without her own Microsoft link, Carol is sent to link it
    let carol = signed_in(&w, CAROL_KEY).await;
    let s = post(&w, &carol, &start_path(&w), &[("member", BOB_KEY)]).await;
    assert_eq!(s.status, 403);
    assert!(
        s.html
            .contains(&format!("href=\"/jira/{}/me\"", w.jira_app.public_id))
    );
    assert_eq!(chats_in_teams(&w), 0);
}

#[actix_web::test]
async fn every_form_is_refused_without_the_csrf_token_or_from_another_site() {
    let (w, chat, link) = chat_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let page = chat_path(&w, link);
    for (path, fields) in [
        (start_path(&w), vec![("upns", "carol@contoso.example")]),
        (format!("{page}/reply"), vec![("text", "hi")]),
        (format!("{page}/share"), vec![("to", "shared")]),
        (format!("{page}/unlink"), vec![]),
    ] {
        let res = post_form(&w, &alice, &path, &fields).await;
        assert_eq!(res.status(), 403, "{path} without a token");
        let csrf = crate::support::jira_user::csrf_of(
            &w,
            &alice,
            &format!("/jira/{}/me", w.jira_app.public_id),
        )
        .await;
        let mut with = vec![("csrf", csrf.as_str())];
        with.extend_from_slice(&fields);
        let res = alice
            .post(w.app.url(&path))
            .header("origin", "https://evil.example")
            .form(&with)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} from another site");
    }
    assert_eq!(links(&w), 1);
    assert_eq!(chats_in_teams(&w), 1);
    assert!(w.graph.messages(&chat).is_empty());
}

#[actix_web::test]
async fn unlinking_removes_the_chat_from_the_issue_and_queues_the_remote_links_deletion_as_the_creator()
 {
    let (w, chat, link) = chat_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let s = post(
        &w,
        &alice,
        &format!("{}/share", chat_path(&w, link)),
        &[("to", "shared")],
    )
    .await;
    assert_eq!(s.status, 303);
    let carol = signed_in(&w, CAROL_KEY).await;
    assert!(
        get(&w, &carol, &issue_path(&w, ISSUE))
            .await
            .html
            .contains(&link.to_string())
    );
    let s = post(&w, &alice, &format!("{}/unlink", chat_path(&w, link)), &[]).await;
    assert_eq!(s.status, 303);
    let s = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert!(!s.html.contains(&link.to_string()), "no longer listed");
    assert!(
        !get(&w, &carol, &issue_path(&w, ISSUE))
            .await
            .html
            .contains(&link.to_string())
    );
    let deletes = outbox_rows(&w, "jira_remote_link_delete");
    assert_eq!(deletes.len(), 1);
    let p = &deletes[0].1;
    assert_eq!(
        p["globalId"],
        format!("jira-teams-bridge:{}:chat:{link}", w.jira_app.public_id)
    );
    assert_eq!(
        (p["issueId"].as_i64(), p["asUser"].as_str()),
        (Some(ISSUE as i64), Some(ALICE_KEY))
    );
    assert!(
        w.graph.chats.lock().unwrap().contains_key(&chat),
        "the chat stays in Teams"
    );
}
