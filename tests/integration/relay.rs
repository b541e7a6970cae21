//! The Graph relay through the appliance: creating a chat for an issue, reading it across pages
//! (sanitised), replying as the user, shared reads with the creator's token (audited), throttling,
//! the corporate proxy with a private CA, and national-cloud endpoints.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fakes;
use crate::support::world::save_microsoft;
use crate::support::world::{
    ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, CAROL_KEY, CATALOG_ID, World, browser, follow,
    world_with_fakes,
};
use crate::support::world::{ISSUE, api, create_chat, linked_world, messages_path};

/// Alice creates a chat with Bob for the issue.
async fn create_with_bob(w: &World) -> (u16, Value) {
    api(
        w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats/create"),
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
    )
    .await
}

fn audit_rows(w: &World, purpose_like: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = w.conn();
    diesel::sql_query("SELECT count(*) AS n FROM secret_access_audit WHERE purpose LIKE $1")
        .bind::<diesel::sql_types::Text, _>(purpose_like)
        .get_result::<N>(&mut conn)
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_linked_user_creates_a_group_chat_for_an_issue_with_linked_colleagues_and_upns() {
    let w = linked_world().await;
    let (status, body) = api(
        &w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats/create"),
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}, {"upn": "carol@contoso.example"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["topic"], "ABC-1: Printer on fire");
    assert_eq!(body["createdBy"], ALICE_KEY);
    assert_eq!(body["botInstalled"], true);
    let chat = body["chatId"].as_str().unwrap();
    assert!(chat.ends_with("@thread.v2"));
    let mut members = w.graph.chat_members(chat);
    members.sort();
    let mut expected = vec![
        ALICE_OID.to_owned(),
        BOB_OID.to_owned(),
        crate::support::world::CAROL_OID.to_owned(),
    ];
    expected.sort();
    assert_eq!(members, expected, "the creator is included");
    assert_eq!(
        w.graph.installs.lock().unwrap().clone(),
        vec![(chat.to_owned(), CATALOG_ID.to_owned())],
        "the bot app is installed in the chat"
    );
    // Bob, a member, sees the link; a Jira user unknown to the chat does not
    let (_, list) = api(
        &w,
        "GET",
        &format!("/api/v1/issues/{ISSUE}/chats"),
        BOB_KEY,
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = api(
        &w,
        "GET",
        &format!("/api/v1/issues/{ISSUE}/chats"),
        CAROL_KEY,
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn chat_creation_refuses_unlinked_members_invisible_issues_and_bad_members_without_side_effects()
 {
    let w = linked_world().await;
    w.jira.add_issue(10046, "ABC-2", "Secret", &[ALICE_KEY]);
    let path = format!("/api/v1/issues/{ISSUE}/chats/create");
    let cases = [
        (
            json!({"members": [{"jiraUser": CAROL_KEY}]}),
            422,
            "member_not_linked",
        ),
        (
            json!({"members": [{"upn": "not an address"}]}),
            400,
            "invalid_member",
        ),
        (
            json!({"members": [{"jiraUser": BOB_KEY, "upn": "x@y.example"}]}),
            400,
            "invalid_member",
        ),
        (json!({"members": []}), 400, "too_many_members"),
        // found by schemathesis: a NUL reached PostgreSQL and answered 500
        (
            json!({"members": [{"jiraUser": "JIRA\u{0}USER"}]}),
            400,
            "invalid_member",
        ),
        (
            json!({"members": [{"upn": "nobody@contoso.example"}]}),
            422,
            "member_unknown",
        ),
    ];
    for (body, status, code) in cases {
        let (s, b) = api(&w, "POST", &path, ALICE_KEY, Some(body.clone())).await;
        assert_eq!(
            (s, b["code"].as_str().unwrap_or("")),
            (status, code),
            "{body} → {b}"
        );
    }
    let (s, b) = api(
        &w,
        "POST",
        "/api/v1/issues/10046/chats/create",
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str().unwrap_or_default()),
        (404, "issue_not_visible"),
        "{b}"
    );
    let (s, b) = api(
        &w,
        "POST",
        &path,
        CAROL_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "not_linked"));
    assert!(
        w.graph.chats.lock().unwrap().is_empty(),
        "no chat was created in Teams"
    );
    let mut conn = w.conn();
    let n: i64 = jira_teams_bridge::db::schema::issue_chat::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0, "and nothing half-written");
}

#[actix_web::test]
async fn messages_are_read_newest_first_across_pages_and_sanitised() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    w.graph.seed_messages(&chat, 44, BOB_OID);
    w.graph.add_system_event(&chat);
    // a hostile message straight into Teams
    let res = reqwest::Client::new()
        .post(format!("{}/v1.0/chats/{chat}/messages", w.graph.base))
        .bearer_auth(bob_token(&w))
        .json(&json!({"body": {"contentType": "html", "content": "<p onmouseover=\"x()\">hi<script>alert(1)</script><img src=x onerror=y()></p>"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=20&cursor={c}", messages_path(&chat)),
            None => format!("{}?limit=20", messages_path(&chat)),
        };
        let (status, page) = api(&w, "GET", &path, ALICE_KEY, None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["readAs"], "member");
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 46);
    let first = &seen[0]["html"].as_str().unwrap();
    assert!(
        first.contains("hi")
            && !first.contains("script")
            && !first.contains("onerror")
            && !first.contains("onmouseover"),
        "{first}"
    );
    assert_eq!(seen[1]["kind"], "systemEventMessage");
    assert_eq!(seen[2]["html"], "<p>message 44</p>");
    assert_eq!(seen[45]["html"], "<p>message 1</p>");
    assert_eq!(seen[2]["fromUserId"], BOB_OID);
    // a forged cursor that points elsewhere is refused before any token leaves
    let evil = base64_url(&format!(
        "https://evil.example/v1.0/chats/{chat}/messages?$skiptoken=x"
    ));
    let (status, body) = api(
        &w,
        "GET",
        &format!("{}?cursor={evil}", messages_path(&chat)),
        ALICE_KEY,
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_cursor")
    );
    let (status, body) = api(
        &w,
        "GET",
        &format!("{}?limit=51", messages_path(&chat)),
        ALICE_KEY,
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_limit")
    );
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A delegated token of Bob's from the fake's registry.
fn bob_token(w: &World) -> String {
    w.entra
        .tokens
        .lock()
        .unwrap()
        .iter()
        .find(|(_, t)| t.oid.as_deref() == Some(BOB_OID) && !t.revoked)
        .map(|(k, _)| k.clone())
        .unwrap()
}

#[actix_web::test]
async fn a_reply_is_posted_as_the_user_with_its_text_escaped() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    let (status, body) = api(
        &w,
        "POST",
        &messages_path(&chat),
        BOB_KEY,
        Some(json!({"text": "Fixed <b>now</b>\nsee ABC-1"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["fromUserId"], BOB_OID);
    let last = w.graph.messages(&chat).last().cloned().unwrap();
    assert_eq!(last["from"]["user"]["id"], BOB_OID);
    assert_eq!(
        last["body"]["content"],
        "Fixed &lt;b&gt;now&lt;/b&gt;<br>see ABC-1"
    );
    let (status, body) = api(
        &w,
        "POST",
        &messages_path(&chat),
        BOB_KEY,
        Some(json!({"text": "   "})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "invalid_text")
    );
    let (status, _) = api(
        &w,
        "POST",
        &messages_path(&chat),
        CAROL_KEY,
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(
        status, 404,
        "a Jira user who cannot see the chat cannot post to it"
    );
}

#[actix_web::test]
async fn a_shared_chat_is_read_with_the_creators_token_and_every_read_is_audited() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    w.graph.seed_messages(&chat, 3, ALICE_OID);
    let (status, _) = api(&w, "GET", &messages_path(&chat), CAROL_KEY, None).await;
    assert_eq!(status, 404, "private until shared");
    let (status, _) = api(
        &w,
        "PUT",
        &format!("/api/v1/issues/{ISSUE}/chats/{chat}/access"),
        ALICE_KEY,
        Some(json!({"publicAccess": "share"})),
    )
    .await;
    assert_eq!(status, 200);
    let before = audit_rows(&w, "shared chat read by Jira user JIRAUSER10300%");
    for _ in 0..2 {
        let (status, page) = api(&w, "GET", &messages_path(&chat), CAROL_KEY, None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["readAs"], "shared");
        assert_eq!(page["items"].as_array().unwrap().len(), 3);
    }
    assert_eq!(
        audit_rows(&w, "shared chat read by Jira user JIRAUSER10300%") - before,
        2,
        "one audit row per shared read"
    );
    // Carol cannot post: she is not in the chat
    let (status, body) = api(
        &w,
        "POST",
        &messages_path(&chat),
        CAROL_KEY,
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (403, "not_linked")
    );

    // the creator's tokens are revoked in Entra: shared reads stop with a clear status
    w.entra.revoke_user(ALICE_OID);
    let (status, body) = api(&w, "GET", &messages_path(&chat), CAROL_KEY, None).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (409, "shared_read_unavailable"),
        "{body}"
    );
    assert_eq!(w.me(ALICE_KEY).await["status"], "needs_reauth");
    let (status, body) = api(&w, "GET", &messages_path(&chat), CAROL_KEY, None).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (409, "shared_read_unavailable")
    );
    // and once the creator unlinks, too
    let (status, _) = api(&w, "DELETE", "/api/v1/me", ALICE_KEY, None).await;
    assert_eq!(status, 204);
    let (status, body) = api(&w, "GET", &messages_path(&chat), CAROL_KEY, None).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (409, "shared_read_unavailable")
    );
}

#[actix_web::test]
async fn a_throttled_graph_is_retried_after_retry_after_and_never_before() {
    let w = linked_world().await;
    let chat = create_chat(&w).await;
    w.graph.seed_messages(&chat, 2, ALICE_OID);
    let start = w.graph.requests.lock().unwrap().len();
    w.graph.throttle_next(2, 1);
    let (status, page) = api(&w, "GET", &messages_path(&chat), ALICE_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    let reqs = w.graph.requests.lock().unwrap()[start..].to_vec();
    assert_eq!(reqs.len(), 3, "two refused, one served");
    for pair in reqs.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= Duration::from_secs(1),
            "a retry came before Retry-After"
        );
    }
    // a storm longer than the appliance waits answers 503 at once with the wait in the detail
    w.graph.throttle_next(5, 120);
    let t = std::time::Instant::now();
    let (status, body) = api(&w, "GET", &messages_path(&chat), ALICE_KEY, None).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (503, "graph_throttled")
    );
    assert!(body["detail"].as_str().unwrap().contains("120 s"));
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[actix_web::test]
async fn everything_works_through_the_corporate_proxy_with_a_private_ca() {
    let dir = crate::support::app::TempDir::new();
    let (cert, key, _) = crate::support::tls::self_signed(&dir.0);
    let (proxy, log) = fakes::proxy::start(Some(("corp", "s3cret")));
    let (_, entra) = fakes::entra::start(3600);
    let (_, graph) = fakes::graph::start_tls(entra.clone(), &cert, &key);
    assert!(graph.base.starts_with("https://"));
    let w = world_with_fakes(entra, graph.clone(), move |s| {
        s.outbound.proxy = Some(secrecy::SecretString::from(format!(
            "http://corp:s3cret@{proxy}"
        )));
        s.outbound.ca_file = cert;
    })
    .await;
    w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(w.link(BOB_KEY, BOB_OID).await.0, 200);
    let chat = create_chat(&w).await;
    w.graph.seed_messages(&chat, 2, BOB_OID);
    let (status, page) = api(&w, "GET", &messages_path(&chat), ALICE_KEY, None).await;
    assert_eq!(status, 200, "{page}");
    let graph_host = graph.base.trim_start_matches("https://").to_owned();
    assert!(
        log.connects.lock().unwrap().contains(&graph_host),
        "Graph went through CONNECT"
    );
    let forwarded = log.forwarded.lock().unwrap().clone();
    assert!(
        forwarded.iter().any(|f| f.contains("/oauth2/v2.0/token")),
        "Entra went through the proxy: {forwarded:?}"
    );
    assert!(
        forwarded
            .iter()
            .any(|f| f.contains("/rest/oauth2/latest/token")),
        "Jira went through the proxy"
    );
    assert_eq!(log.refused.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn without_the_corporate_ca_graph_is_not_trusted_and_the_api_says_so() {
    let dir = crate::support::app::TempDir::new();
    let (cert, key, _) = crate::support::tls::self_signed(&dir.0);
    let (_, entra) = fakes::entra::start(3600);
    let (_, graph) = fakes::graph::start_tls(entra.clone(), &cert, &key);
    let w = world_with_fakes(entra, graph, |_| {}).await;
    w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(w.link(BOB_KEY, BOB_OID).await.0, 200);
    let (status, body) = create_with_bob(&w).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (502, "graph_unavailable"),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("certificate") || detail.contains("unreachable"),
        "{detail}"
    );
    assert!(
        !detail.contains("Bearer") && !detail.contains("eyJ"),
        "no token in errors"
    );
}

#[actix_web::test]
async fn a_national_cloud_uses_its_own_graph_host_for_scopes_and_app_tokens() {
    let (_, entra) = fakes::entra::start(3600);
    let (_, graph) = fakes::graph::start(entra.clone());
    let login = entra.base.clone();
    // login goes to the fake; Graph is not overridden, so the cloud's own host is used
    let w = world_with_fakes(entra, graph, move |s| {
        s.microsoft.login_url = login;
        s.microsoft.graph_url = String::new();
    })
    .await;
    let res = save_microsoft(&w.app, "usgov", "", "", "").await;
    assert_eq!(res.status(), 200);
    let url = w.me(ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = browser().get(&url).send().await.unwrap();
    let authorize = crate::support::app::location(&res);
    let scope: String = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(
        scope.contains("https://graph.microsoft.us/Chat.ReadWrite"),
        "{scope}"
    );
    assert!(!scope.contains("graph.microsoft.com"));
    // the admin's connection test asks for the GCC High Graph's app-only scope
    let res = w.app.post_form("/admin/microsoft/test", &[]).await;
    let html = res.text().await.unwrap();
    assert!(html.contains("the app registration works"), "{html}");
    let form = w.entra.last_form.lock().unwrap().clone();
    assert!(
        form.contains(&(
            "scope".to_owned(),
            "https://graph.microsoft.us/.default".to_owned()
        )),
        "{form:?}"
    );
    let _ = follow;
}

#[actix_web::test]
async fn an_expired_jira_token_is_refreshed_with_the_rotated_refresh_token_each_time() {
    let w = linked_world().await;
    let expire = || {
        let mut conn = w.conn();
        diesel::sql_query("UPDATE access_token SET expires_at = now() - interval '1 minute' WHERE kind = 'jira_user'")
            .execute(&mut conn)
            .unwrap();
    };
    for round in 1..=2 {
        expire();
        let (status, body) = create_with_bob(&w).await;
        assert_eq!(status, 201, "round {round}: {body}");
        // the fake disables a refresh token once used: round 2 only works with the new one
        assert_eq!(
            w.jira
                .refresh_calls
                .load(std::sync::atomic::Ordering::SeqCst),
            round
        );
    }
    // a revoked Jira grant asks the user to sign in again
    w.jira.revoke_user(ALICE_KEY);
    expire();
    let (status, body) = create_with_bob(&w).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (409, "needs_sign_in"),
        "{body}"
    );
    let me = w.me(ALICE_KEY).await;
    assert_eq!(me["status"], "needs_reauth");
    assert!(me["statusDetail"].as_str().unwrap().contains("Jira"));
}
