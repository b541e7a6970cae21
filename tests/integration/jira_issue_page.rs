//! The issue page for Jira users (`/jira/<public id>/issues/<issue>`): ids everywhere (a key, or a
//! moved issue's old key, redirects to the id URL), what each chat shows (topic, creator, known
//! members, sharing, *Open in Teams*, a remote link Jira refused), keyset paging of the chats, a
//! deleted issue (410), consent revoked in Jira (the session ends), and bad URLs.

use diesel::prelude::*;
use jira_teams_bridge::db::schema::{issue_chat, jira_user_session, user_mapping};

use crate::support::issue_pages::{chat_path, chat_world, get, issue_path, link_id, next_link};
use crate::support::jira_user::signed_in;
use crate::support::wait::eventually;
use crate::support::webhook::{post_fixture, webhook_path};
use crate::support::world::{ALICE_KEY, ISSUE, World, create_chat_with_bob, linked_world};

const TOPIC: &str = "ABC-1: Printer on fire";

fn jira_name(w: &World, key: &str) -> String {
    user_mapping::table
        .filter(user_mapping::jira_user_key.eq(key))
        .select(user_mapping::jira_user_name)
        .first::<Option<String>>(&mut w.conn())
        .unwrap()
        .unwrap()
}

#[actix_web::test]
async fn an_issue_key_redirects_to_the_id_url_whose_page_shows_each_chat_with_its_people_and_teams_link()
 {
    let (w, _, link) = chat_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    for key in ["ABC-1", "abc-1"] {
        let s = get(&w, &alice, &issue_path(&w, key)).await;
        assert_eq!(s.status, 303, "{key}");
        assert_eq!(s.location, Some(issue_path(&w, ISSUE)));
    }
    let s = get(
        &w,
        &alice,
        &format!("{}/chats/{link}", issue_path(&w, "ABC-1")),
    )
    .await;
    assert_eq!(
        (s.status, s.location),
        (303, Some(chat_path(&w, link))),
        "a chat page by key goes to its id URL too"
    );

    let s = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert_eq!(s.status, 200, "{}", s.html);
    assert!(s.html.contains("Printer on fire"));
    assert!(s.html.contains(" · Open</p>"), "the issue's status");
    assert!(s.html.contains(TOPIC));
    assert!(
        s.html
            .contains(&format!("href=\"{}\"", chat_path(&w, link)))
    );
    assert!(
        s.html.contains(&jira_name(&w, ALICE_KEY)),
        "the creator by name"
    );
    assert!(
        s.html
            .contains("2 known members: alice@contoso.example, bob@contoso.example"),
        "{}",
        s.html
    );
    assert!(s.html.contains("private to its members"));
    let web_url: String = issue_chat::table
        .find(link)
        .select(issue_chat::web_url)
        .first::<Option<String>>(&mut w.conn())
        .unwrap()
        .expect("the webUrl Graph gave is stored");
    let escaped = web_url.replace('&', "&amp;");
    assert!(
        s.html
            .contains(&format!("href=\"{escaped}\" class=\"open-in-teams\"")),
        "Open in Teams: {}",
        s.html
    );
    assert!(
        s.html
            .contains(&format!("href=\"{}/start\"", issue_path(&w, ISSUE)))
    );
    assert!(
        !s.html.contains("refused"),
        "no remote-link refusal to show"
    );
}

#[actix_web::test]
async fn a_moved_issue_is_found_by_its_old_key_and_shown_under_its_id_with_its_new_key() {
    let (w, _, link) = chat_world().await;
    w.jira.move_issue("ABC-1", "XYZ-7");
    let alice = signed_in(&w, ALICE_KEY).await;
    let s = get(&w, &alice, &issue_path(&w, "ABC-1")).await;
    assert_eq!((s.status, s.location), (303, Some(issue_path(&w, ISSUE))));
    let s = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert_eq!(s.status, 200);
    assert!(s.html.contains("XYZ-7"), "the new key: {}", s.html);
    assert!(
        s.html.contains(&chat_path(&w, link)),
        "its chats follow it: links are by id"
    );
}

#[actix_web::test]
async fn a_deleted_issue_answers_410_and_keeps_its_links_while_an_unknown_one_is_just_not_available()
 {
    let (w, _, link) = chat_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    let hook = webhook_path(&w).await;
    post_fixture(&w.app, &hook, "issue_deleted").await;
    let deleted: bool = issue_chat::table
        .find(link)
        .select(issue_chat::issue_deleted)
        .first(&mut w.conn())
        .unwrap();
    assert!(deleted, "the webhook marks the issue's links");
    w.jira.delete_issue("ABC-1");
    for path in [issue_path(&w, ISSUE), chat_path(&w, link)] {
        let s = get(&w, &alice, &path).await;
        assert_eq!(s.status, 410, "{path}: {}", s.html);
        assert!(s.html.contains("This issue was deleted in Jira"));
    }
    let n: i64 = issue_chat::table.count().get_result(&mut w.conn()).unwrap();
    assert_eq!(n, 1, "the link is kept for export");
    let s = get(&w, &alice, &issue_path(&w, 10999)).await;
    assert_eq!(s.status, 404);
    assert!(s.html.contains("not available to you"));
}

#[actix_web::test]
async fn consent_revoked_in_jira_ends_the_session_and_the_page_offers_to_sign_in_again() {
    let (w, _, _) = chat_world().await;
    let alice = signed_in(&w, ALICE_KEY).await;
    w.jira.revoke_user(ALICE_KEY);
    let s = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert_eq!(s.status, 401, "{}", s.html);
    assert!(s.html.contains("Jira no longer accepts your sign-in"));
    assert!(s.html.contains("href=\"/auth/jira/signin?i="), "{}", s.html);
    assert!(!s.html.contains(TOPIC));
    let sessions: i64 = jira_user_session::table
        .filter(jira_user_session::jira_user_key.eq(ALICE_KEY))
        .count()
        .get_result(&mut w.conn())
        .unwrap();
    assert_eq!(sessions, 0, "the session ended");
    let s = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert_eq!(s.status, 303);
    assert!(s.location.unwrap().starts_with("/auth/jira/signin?"));
}

#[actix_web::test]
async fn a_remote_link_jira_refused_is_shown_in_jiras_words_on_the_issue_and_chat_pages() {
    let w = linked_world().await;
    // Alice may not link issues in the project: Jira refuses her chat's remote link
    w.jira.deny_linking(ALICE_KEY);
    let chat = create_chat_with_bob(&w).await;
    let link = link_id(&w, &chat);
    eventually("Jira's refusal of the remote link", 20, || {
        issue_chat::table
            .find(link)
            .select(issue_chat::remote_link_state)
            .first::<String>(&mut w.conn())
            .unwrap()
            == "refused"
    })
    .await;
    let alice = signed_in(&w, ALICE_KEY).await;
    for path in [issue_path(&w, ISSUE), chat_path(&w, link)] {
        let s = get(&w, &alice, &path).await;
        assert!(
            s.html.contains(
                "Jira refused to show this chat in the issue: You do not have the permission to link issues in this project."
            ),
            "{path}: {}",
            s.html
        );
    }
}

#[actix_web::test]
async fn an_issue_with_many_chats_is_paged_with_a_more_link_and_a_forged_page_link_is_refused() {
    let (w, _, _) = chat_world().await;
    let mut conn = w.conn();
    for i in 0..24 {
        diesel::sql_query(
            "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id, topic, created_at) \
             VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        )
        .bind::<diesel::sql_types::Uuid, _>(w.instance_id)
        .bind::<diesel::sql_types::BigInt, _>(ISSUE as i64)
        .bind::<diesel::sql_types::Text, _>(ALICE_KEY)
        .bind::<diesel::sql_types::Text, _>(format!("19:paged{i:02}@thread.v2"))
        .bind::<diesel::sql_types::Text, _>(format!("Paged chat {i:02}"))
        .bind::<diesel::sql_types::Double, _>(f64::from(i + 1))
        .execute(&mut conn)
        .unwrap();
    }
    let alice = signed_in(&w, ALICE_KEY).await;
    let first = get(&w, &alice, &issue_path(&w, ISSUE)).await;
    assert!(first.html.contains(TOPIC), "oldest first");
    assert!(first.html.contains("Paged chat 18") && !first.html.contains("Paged chat 19"));
    let more = next_link(&first.html).expect("a link to more chats");
    assert!(more.contains("?after="), "{more}");
    let second = get(&w, &alice, &more).await;
    assert_eq!(second.status, 200);
    for i in 19..24 {
        assert!(second.html.contains(&format!("Paged chat {i:02}")), "{i}");
    }
    assert!(!second.html.contains("Paged chat 18") && !second.html.contains(TOPIC));
    assert_eq!(next_link(&second.html), None, "the last page");
    let s = get(
        &w,
        &alice,
        &format!("{}?after=bm90IG91cnM", issue_path(&w, ISSUE)),
    )
    .await;
    assert_eq!(s.status, 400);
    assert!(s.html.contains("not one the appliance made"));
}

#[actix_web::test]
async fn urls_that_name_no_issue_or_no_chat_of_it_get_pages_that_say_so() {
    let (w, _, link) = chat_world().await;
    w.jira.add_issue(10046, "ABC-2", "Another issue", &[]);
    let alice = signed_in(&w, ALICE_KEY).await;
    for path in [
        issue_path(&w, "not%20a%20key"),
        issue_path(&w, 0),
        issue_path(&w, "ABC-"),
    ] {
        let s = get(&w, &alice, &path).await;
        assert_eq!(s.status, 404, "{path}");
        assert!(s.html.contains("not available to you"), "{path}");
    }
    for path in [
        format!("{}/chats/not-a-uuid", issue_path(&w, ISSUE)),
        format!("{}/chats/{}", issue_path(&w, ISSUE), uuid::Uuid::new_v4()),
        // a chat of ABC-1 under another issue
        format!("{}/chats/{link}", issue_path(&w, 10046)),
    ] {
        let s = get(&w, &alice, &path).await;
        assert_eq!(s.status, 404, "{path}");
        assert!(
            s.html
                .contains("No Teams chat with this link is linked to this issue")
        );
    }
}
