//! Signing in with Jira on the appliance's pages for Jira users (JIRA-SURFACE.md "Sign-in for
//! Jira users"): authorization code + PKCE on the instance's incoming link, a session in
//! PostgreSQL behind a `SameSite=Lax` cookie, and a return address that must stay under `/jira/`.

use crate::support::jira_user::open_signed_in;
use crate::support::world::{ALICE_KEY, browser, world};

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
