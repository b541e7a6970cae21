//! Signing in with Jira on the appliance's pages for Jira users (JIRA-SURFACE.md "Sign-in for
//! Jira users"): authorization code + PKCE on the instance's incoming link, a session in
//! PostgreSQL behind a `SameSite=Lax` cookie, and a return address that must stay under `/jira/`;
//! and each way it can fail, with a page that says what to do.

use crate::support::app::location;
use crate::support::jira_user::{open_signed_in, sessions_of, signed_in};
use crate::support::world::{ALICE_KEY, BOB_KEY, World, browser, follow, world};

#[actix_web::test]
async fn signing_in_with_jira_returns_to_the_page_asked_for_with_a_lax_session_cookie() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    let me = format!("/jira/{pid}/me");
    let (_, _, seen) = open_signed_in(&w, ALICE_KEY, &me).await;
    assert!(
        seen[1].starts_with(&w.app.url("/auth/jira/signin?")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|u| u.contains("/rest/oauth2/latest/authorize")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|u| u.contains("/auth/jira/callback?")),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap(), &w.app.url(&me), "{seen:?}");

    // the callback's answer, replayed by hand, shows the cookie's attributes
    let b = browser();
    w.jira.sign_in_as(ALICE_KEY);
    let mut res = b.get(w.app.url(&me)).send().await.unwrap();
    let mut cookie = None;
    for _ in 0..6 {
        if let Some(c) = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("jtb_jira_{pid}=")))
        {
            cookie = Some(c.to_owned());
            break;
        }
        let next = res
            .url()
            .join(&crate::support::app::location(&res))
            .unwrap();
        res = b.get(next).send().await.unwrap();
    }
    let cookie = cookie.expect("the callback sets the session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let mut conn = w.conn();
    use diesel::prelude::*;
    let n: i64 = jira_teams_bridge::db::schema::jira_user_session::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 2, "one session per sign-in");
}

/// The page a sign-in link ends on (following redirects from the appliance and the Jira
/// double), with its status and text.
async fn end_of(w: &World, b: &reqwest::Client, path: &str) -> (u16, String, Vec<String>) {
    let (res, seen) = follow(b, &w.app.url(path)).await;
    (res.status().as_u16(), res.text().await.unwrap(), seen)
}

#[actix_web::test]
async fn an_instance_without_an_oauth_link_says_the_administrator_must_create_one() {
    let w = world().await;
    let (base, _jira) = crate::fakes::jira::start("/jira");
    let (pid, _) = w.app.register_instance(&base).await;
    let (status, text, seen) = end_of(&w, &browser(), &format!("/jira/{pid}/me")).await;
    assert_eq!(status, 503, "{seen:?}");
    assert!(
        text.contains("Signing in with Jira is not set up for this Jira instance yet"),
        "{text}"
    );
    assert!(text.contains("Ask your Jira administrator to create one (permission Write, redirect URL ending in /auth/jira/callback)"));
    assert!(
        !seen.iter().any(|u| u.starts_with(&base)),
        "never sent to Jira: {seen:?}"
    );
}

#[actix_web::test]
async fn refusing_consent_in_jira_signs_nobody_in_and_says_to_choose_allow() {
    let w = world().await;
    w.jira.refuse_consent(true);
    w.jira.sign_in_as(ALICE_KEY);
    let b = browser();
    let (status, text, seen) = end_of(&w, &b, &format!("/jira/{}/me", w.jira_app.public_id)).await;
    assert_eq!(status, 403, "{seen:?}");
    assert!(
        seen.iter().any(|u| u.contains("error=access_denied")),
        "{seen:?}"
    );
    assert!(
        text.contains(
            "You did not allow the appliance to use your Jira account, so you are not signed in."
        ),
        "{text}"
    );
    assert!(text.contains("choose Allow"));
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 0);
    // allowing it the next time signs in
    w.jira.refuse_consent(false);
    let (status, _, _) = end_of(&w, &b, &format!("/jira/{}/me", w.jira_app.public_id)).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn an_unknown_instance_id_gets_a_page_that_says_which_link_to_open() {
    let w = world().await;
    for path in [
        "/jira/ZZZZZZ/me".to_owned(),
        "/jira/not%20an%20id/me".to_owned(),
        "/auth/jira/signin?i=ZZZZZZ&next=%2Fjira%2FZZZZZZ%2Fme".to_owned(),
    ] {
        let res = browser().get(w.app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("This appliance has no Jira instance with this ID. Open the link from your Jira issue again"),
            "{path}"
        );
    }
    let res = browser()
        .get(w.app.url("/auth/jira/signin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This sign-in link names no Jira instance.")
    );
}

#[actix_web::test]
async fn a_disabled_instance_refuses_its_pages_and_its_sign_in_even_to_a_live_session() {
    let w = world().await;
    let b = signed_in(&w, ALICE_KEY).await;
    // a second browser is half-way through signing in when the admin disables the instance
    let late = browser();
    w.jira.sign_in_as(BOB_KEY);
    let me = format!("/jira/{}/me", w.jira_app.public_id);
    let mut url = w.app.url(&me);
    let callback = loop {
        let res = late.get(&url).send().await.unwrap();
        url = res.url().join(&location(&res)).unwrap().to_string();
        if url.contains("/auth/jira/callback?") {
            break url;
        }
    };
    let res = w
        .app
        .post_form(&format!("/admin/instances/{}/disable", w.instance_id), &[])
        .await;
    assert_eq!(res.status(), 303);

    let res = b.get(w.app.url(&me)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("This Jira instance is disabled in the appliance, so its pages are not available. Ask your administrator."),
        "{text}"
    );
    let res = b
        .get(
            w.app
                .url(&format!("/auth/jira/signin?i={}", w.jira_app.public_id)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = late.get(&callback).send().await.unwrap();
    assert_eq!(
        res.status(),
        403,
        "the late sign-in does not open a session"
    );
    assert_eq!(sessions_of(&w, w.instance_id, BOB_KEY), 0);
}

#[actix_web::test]
async fn a_return_address_outside_the_instance_pages_is_refused_without_a_redirect() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    let other = crate::support::jira_user::second_instance(&w).await;
    for next in [
        format!("https://evil.example/jira/{pid}/me"),
        format!("//evil.example/jira/{pid}/me"),
        "/admin".to_owned(),
        "/admin/instances".to_owned(),
        format!("/jira/{}/me", other.public_id),
        format!("/jira/{pid}/../../admin"),
        format!("/jira/{pid}//evil.example"),
        format!("/jira/{pid}/\\evil.example"),
    ] {
        let q =
            serde_urlencoded::to_string([("i", pid.as_str()), ("next", next.as_str())]).unwrap();
        let res = browser()
            .get(w.app.url(&format!("/auth/jira/signin?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{next}");
        assert!(res.headers().get("location").is_none(), "{next}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("This sign-in link would send you to a page outside the appliance"),
            "{next}"
        );
    }
    // no next at all: the account page
    let res = browser()
        .get(w.app.url(&format!("/auth/jira/signin?i={pid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(&w.jira.base));
}

#[actix_web::test]
async fn a_sign_in_answer_replayed_is_refused_and_opens_no_second_session() {
    let w = world().await;
    let me = format!("/jira/{}/me", w.jira_app.public_id);
    let (b, res, seen) = open_signed_in(&w, ALICE_KEY, &me).await;
    assert_eq!(res.status(), 200);
    let callback = seen
        .iter()
        .find(|u| u.contains("/auth/jira/callback?"))
        .unwrap()
        .clone();
    for who in [b, browser()] {
        let res = who.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("This sign-in answer is unknown, expired or was already used.")
        );
    }
    assert_eq!(sessions_of(&w, w.instance_id, ALICE_KEY), 1);
}
