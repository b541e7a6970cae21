//! A linked Teams chat as the Jira issue shows it: one remote link, whatever way the chat was
//! linked (created through `/api/v1`, or linked by id), with exactly the body of
//! `shared/design/JIRA-SURFACE.md`; rewritten in place when its sharing changes, struck through
//! when Teams says the chat is gone, deleted on unlink; none while the instance has remote links
//! switched off, and every one written when they are switched back on. Failures are in
//! `jira_remote_link_failures`, the crash in `jira_remote_link_sigkill`.

use std::time::{Duration, Instant};

use jira_teams_bridge::db::models::issue_chat::IssueChat;
use serde_json::{Value, json};

use crate::support::wait::{eventually, outbox_settled};
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_OID, ISSUE, World, api, create_chat, linked_world,
};

/// The link row of a chat linked to ABC-1.
pub fn link_of(w: &World, chat: &str) -> IssueChat {
    IssueChat::find(&mut w.conn(), w.instance_id, ISSUE as i64, chat)
        .unwrap()
        .expect("the chat is linked")
        .0
}

/// Waits until the link's remote link is in `state`; returns the link.
pub async fn link_in_state(w: &World, chat: &str, state: &str) -> IssueChat {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let l = link_of(w, chat);
        if l.remote_link_state == state {
            return l;
        }
        assert!(
            Instant::now() < until,
            "the remote link stayed {} ({:?}), not {state}",
            l.remote_link_state,
            l.remote_link_detail
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until issue `issue` has exactly one remote link, then returns it as Jira shows it.
pub async fn the_one_remote_link(w: &World, issue: u64) -> Value {
    eventually("the remote link in the Jira issue", 20, || {
        !w.jira.remote_links(issue).is_empty()
    })
    .await;
    let links = w.jira.remote_links(issue);
    assert_eq!(links.len(), 1, "{links:?}");
    links[0].1.clone()
}

/// Links the Graph chat `chat` to ABC-1 by id, as Alice through `/api/v1`.
pub async fn link_by_id(w: &World, chat: &str) {
    let (status, body) = api(
        w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats"),
        ALICE_KEY,
        Some(json!({ "chatId": chat })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// The remote link the design specifies for a link, with `title` and `summary`.
fn designed(w: &World, link: &IssueChat, title: &str, summary: &str, resolved: bool) -> Value {
    let base = &w.app.state.internal_url;
    let public_id = &w.jira_app.public_id;
    json!({
        "globalId": format!("jira-teams-bridge:{public_id}:chat:{}", link.id),
        "application": {"type": "org.jira-teams-bridge", "name": "Microsoft Teams"},
        "relationship": "Teams chat",
        "object": {
            "url": format!("{base}/jira/{public_id}/issues/{ISSUE}/chats/{}", link.id),
            "title": title,
            "summary": summary,
            "icon": {"url16x16": format!("{base}/static/teams-16.png"), "title": "Teams chat"},
            "status": {"resolved": resolved},
        },
    })
}

/// The link without the fields Jira adds (`id`, `self`).
fn as_written(mut link: Value) -> Value {
    let o = link.as_object_mut().unwrap();
    o.remove("id");
    o.remove("self");
    link
}

#[actix_web::test]
async fn a_chat_created_through_the_api_appears_in_its_jira_issue_as_exactly_the_designed_remote_link()
 {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    let written = the_one_remote_link(&w, ISSUE).await;
    let link = link_in_state(&w, &chat, "linked").await;
    assert_eq!(
        as_written(written.clone()),
        designed(
            &w,
            &link,
            "ABC-1: Printer on fire",
            "Private to its 3 members · started by alice (Jira)",
            false
        )
    );
    // the icon Jira shows next to it is a real 16×16 PNG, served without a session
    let icon = written["object"]["icon"]["url16x16"].as_str().unwrap();
    let res = reqwest::get(icon).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let png = res.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        (&png[16..20], &png[20..24]),
        (&[0, 0, 0, 16][..], &[0, 0, 0, 16][..])
    );
    // written once
    let writes = w
        .jira
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m, p)| m == "POST" && p.ends_with("/remotelink"))
        .count();
    assert_eq!(writes, 1);
}

#[actix_web::test]
async fn a_chat_linked_by_id_gets_its_topic_and_teams_link_from_graph_and_its_remote_link() {
    let w = linked_world().await;
    let chat = w
        .graph
        .create_chat_directly(&[ALICE_OID, BOB_OID], Some("Release planning"));
    link_by_id(&w, &chat).await;
    let written = the_one_remote_link(&w, ISSUE).await;
    let link = link_in_state(&w, &chat, "linked").await;
    assert_eq!(
        as_written(written),
        designed(
            &w,
            &link,
            "Release planning",
            "Private · started by alice (Jira)",
            false
        )
    );
    // kept for the chat's page (Open in Teams), so Graph is not asked again
    assert_eq!(link.topic.as_deref(), Some("Release planning"));
    assert!(
        link.web_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/chat/")),
        "{:?}",
        link.web_url
    );
    assert!(!link.chat_gone);
}

#[actix_web::test]
async fn sharing_a_chat_rewrites_its_remote_link_in_place_and_making_it_private_again_too() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    let first = the_one_remote_link(&w, ISSUE).await;
    let access = format!("/api/v1/issues/{ISSUE}/chats/{chat}/access");
    for (public_access, summary) in [
        (
            "share",
            "Shared with everyone who can see the issue · started by alice (Jira)",
        ),
        ("none", "Private to its 3 members · started by alice (Jira)"),
    ] {
        let (status, body) = api(
            &w,
            "PUT",
            &access,
            ALICE_KEY,
            Some(json!({ "publicAccess": public_access })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        eventually(&format!("the summary to say {summary}"), 20, || {
            w.jira
                .remote_links(ISSUE)
                .first()
                .is_some_and(|(_, l)| l["object"]["summary"] == summary)
        })
        .await;
        let links = w.jira.remote_links(ISSUE);
        assert_eq!(links.len(), 1, "still one link: {links:?}");
        assert_eq!(links[0].0, first["globalId"].as_str().unwrap());
        assert_eq!(links[0].1["id"], first["id"], "updated, not replaced");
    }
    link_in_state(&w, &chat, "linked").await;
}

#[actix_web::test]
async fn unlinking_a_chat_deletes_its_remote_link_from_the_issue() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    the_one_remote_link(&w, ISSUE).await;
    let (status, _) = api(
        &w,
        "DELETE",
        &format!("/api/v1/issues/{ISSUE}/chats/{chat}"),
        ALICE_KEY,
        None,
    )
    .await;
    assert_eq!(status, 204);
    eventually("the remote link to be deleted", 20, || {
        w.jira.remote_links(ISSUE).is_empty()
    })
    .await;
    outbox_settled(&w.app.db.url, 10).await;
    let stats = jira_teams_bridge::db::models::outbox::OutboxItem::stats(&mut w.conn()).unwrap();
    assert_eq!(stats.dead, 0, "nothing failed");
}

#[actix_web::test]
async fn a_chat_teams_no_longer_knows_is_struck_through_in_the_issue() {
    let w = linked_world().await;
    // linked by id, but Graph answers 404 for it: deleted in Teams
    let chat = "19:deleted0000000000000000000000000@thread.v2";
    link_by_id(&w, chat).await;
    let written = the_one_remote_link(&w, ISSUE).await;
    let link = link_in_state(&w, chat, "linked").await;
    assert!(link.chat_gone, "the link remembers that Teams said 404");
    assert_eq!(
        as_written(written),
        designed(
            &w,
            &link,
            "ABC-1: Printer on fire",
            "Chat deleted in Teams · started by alice (Jira)",
            true
        )
    );
}

/// Saves the instance's settings page with the given boxes ticked.
pub async fn save_settings(w: &World, remote_links: bool, comment: bool) -> reqwest::Response {
    let mut fields = vec![];
    if remote_links {
        fields.push(("remote_links", "on"));
    }
    if comment {
        fields.push(("remote_link_comment", "on"));
    }
    w.app
        .post_form(
            &format!("/admin/instances/{}/settings", w.instance_id),
            &fields,
        )
        .await
}

#[actix_web::test]
async fn with_remote_links_switched_off_no_link_is_written_until_they_are_switched_back_on() {
    let w = linked_world().await;
    let res = save_settings(&w, false, false).await;
    assert_eq!(res.status(), 303);
    let page = w
        .app
        .get(&crate::support::app::location(&res))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Chats linked from now on are not shown in Jira"),
        "{page}"
    );
    let first = create_chat(&w).await;
    let second = w
        .graph
        .create_chat_directly(&[ALICE_OID, BOB_OID], Some("Second chat"));
    link_by_id(&w, &second).await;
    link_in_state(&w, &first, "off").await;
    link_in_state(&w, &second, "off").await;
    outbox_settled(&w.app.db.url, 10).await;
    assert!(
        w.jira.remote_links(ISSUE).is_empty(),
        "nothing written in Jira"
    );

    // back on: every link of the instance gets its remote link
    let res = save_settings(&w, true, false).await;
    assert_eq!(res.status(), 303);
    let page = w
        .app
        .get(&crate::support::app::location(&res))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("The remote link of every chat linked in this instance is being written"),
        "{page}"
    );
    eventually("both remote links", 20, || {
        w.jira.remote_links(ISSUE).len() == 2
    })
    .await;
    link_in_state(&w, &first, "linked").await;
    link_in_state(&w, &second, "linked").await;
}

#[actix_web::test]
async fn the_settings_page_shows_both_switches_with_their_defaults_and_refuses_a_forged_post() {
    let w = linked_world().await;
    let list = w.app.get("/admin/instances").await.text().await.unwrap();
    let path = format!("/admin/instances/{}/settings", w.instance_id);
    assert!(
        list.contains(&format!("href=\"{path}\"")),
        "linked from the list"
    );
    let page = w.app.get(&path).await.text().await.unwrap();
    assert!(
        page.contains(r#"name="remote_links" value="on" checked>"#),
        "remote links on by default: {page}"
    );
    assert!(
        page.contains(r#"name="remote_link_comment" value="on">"#),
        "the comment off by default: {page}"
    );
    // this appliance is reached over http: the page says what Jira on https will not show
    assert!(page.contains("does not show the Teams icon"), "{page}");
    // no CSRF token, or another site's Origin: refused, nothing changed
    let res = w.app.post_raw(&path, &[("remote_links", "")]).await;
    assert_eq!(res.status(), 403);
    let csrf = w.app.csrf().await;
    let res = w
        .app
        .client
        .post(w.app.url(&path))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let i = jira_teams_bridge::db::models::jira_instance::JiraInstance::find(
        &mut w.conn(),
        w.instance_id,
    )
    .unwrap()
    .unwrap();
    assert!(i.remote_links && !i.remote_link_comment);
    // an unknown instance is a 404 page, for reading and for saving
    let other = format!("/admin/instances/{}/settings", uuid::Uuid::new_v4());
    assert_eq!(w.app.get(&other).await.status(), 404);
    assert_eq!(w.app.post_form(&other, &[]).await.status(), 404);
}

#[actix_web::test]
async fn the_teams_icon_is_served_to_anyone_even_before_setup() {
    let app = crate::support::app::spawn_app().await;
    let res = app.get("/static/teams-16.png").await;
    assert_eq!(res.status(), 200, "not redirected to /setup");
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie for an image"
    );
    assert!(!res.bytes().await.unwrap().is_empty());
}

#[actix_web::test]
async fn doctor_warns_that_jira_on_https_shows_no_icon_from_an_http_appliance() {
    let w = linked_world().await;
    let (code, report, _) = crate::support::cli::doctor(&w.app, vec![]).await;
    let c = crate::support::cli::check(&report, "remote link icon");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("listen.internal_url is http"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("https"), "{c}");
    // a warning alone does not fail the run
    let failed: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(code == 0, failed.is_empty(), "{report}");
}

#[actix_web::test]
async fn a_remote_link_appears_in_the_issue_well_within_a_second_of_linking_the_chat() {
    let w = linked_world().await;
    let mut took = Vec::new();
    for i in 0..50 {
        let chat = w
            .graph
            .create_chat_directly(&[ALICE_OID, BOB_OID], Some(&format!("Chat {i}")));
        // from the linking request to the link in Jira: API, outbox, Graph (topic), Jira
        let started = Instant::now();
        link_by_id(&w, &chat).await;
        while w.jira.remote_links(ISSUE).len() <= i {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "link {i} never came"
            );
            actix_web::rt::time::sleep(Duration::from_millis(1)).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    let (p50, p99) = (took[took.len() / 2], took[took.len() * 99 / 100]);
    println!(
        "remote link after linking a chat: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} links",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        took[took.len() - 1].as_secs_f64() * 1000.0,
        took.len()
    );
    assert!(p50 < Duration::from_secs(1), "p50 {p50:?}");
}
