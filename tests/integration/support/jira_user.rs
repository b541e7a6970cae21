//! A Jira user in a browser of their own on the appliance's Jira pages (`/jira/…`): signing in
//! with Jira through the Jira double's consent page, reading the pages they get, a second Jira
//! instance next to the world's, and the session rows behind it all.

use std::sync::Arc;

use actix_web::web;
use diesel::prelude::*;
use uuid::Uuid;

use super::world::{World, browser, follow};
use crate::fakes;

/// A browser (cookies, no automatic redirects) that signed in with Jira as `key` on the world's
/// instance by opening `next` (a `/jira/<public id>/…` path) and following every redirect; the
/// page it ended on and the URLs it passed.
pub async fn open_signed_in(
    w: &World,
    key: &str,
    next: &str,
) -> (reqwest::Client, reqwest::Response, Vec<String>) {
    let b = browser();
    w.jira.sign_in_as(key);
    let (res, seen) = follow(&b, &w.app.url(next)).await;
    (b, res, seen)
}

/// A browser signed in with Jira as `key`, on their account page.
pub async fn signed_in(w: &World, key: &str) -> reqwest::Client {
    let me = format!("/jira/{}/me", w.jira_app.public_id);
    let (b, res, seen) = open_signed_in(w, key, &me).await;
    assert_eq!(res.status(), 200, "sign-in did not end on a page: {seen:?}");
    b
}

/// A browser whose cookies the test can read.
pub fn browser_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (b, jar)
}

/// The names of the cookies the jar would send to the appliance.
pub fn cookie_names(w: &World, jar: &reqwest::cookie::Jar) -> Vec<String> {
    use reqwest::cookie::CookieStore;
    let url: reqwest::Url = w.app.base.parse().unwrap();
    jar.cookies(&url)
        .map(|h| {
            h.to_str()
                .unwrap()
                .split("; ")
                .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Opens `path` of the appliance in `b`, signing in with Jira as `key` at `jira` on the way
/// when asked to; the page it ended on and the URLs passed.
pub async fn open_as(
    w: &World,
    b: &reqwest::Client,
    jira: &fakes::jira::Jira,
    key: &str,
    path: &str,
) -> (reqwest::Response, Vec<String>) {
    jira.sign_in_as(key);
    follow(b, &w.app.url(path)).await
}

/// The CSRF token the browser holds for forms (from any form page it can open).
pub async fn csrf_of(w: &World, b: &reqwest::Client, page: &str) -> String {
    let html = b
        .get(w.app.url(page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    super::app::between(&html, "name=\"csrf\" value=\"", "\"")
}

/// POSTs a form from the browser as a same-origin page would (Origin of the appliance).
pub async fn post_form(
    w: &World,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    b.post(w.app.url(path))
        .header("origin", w.app.base.trim_end_matches('/'))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// A second Jira Data Center, with a double of its own, registered on the world's appliance
/// with its OAuth link; Alice and Bob are known there too (same keys, another Jira).
pub struct OtherInstance {
    pub public_id: String,
    pub id: Uuid,
    pub jira: web::Data<fakes::jira::Jira>,
}

/// Registers [`OtherInstance`] through the admin pages.
pub async fn second_instance(w: &World) -> OtherInstance {
    let (base, jira) = fakes::jira::start("/jira");
    let (public_id, _) = w.app.register_instance(&base).await;
    let id = instance_row(w, &public_id);
    let res = w
        .app
        .post_form(
            &format!("/admin/instances/{id}/oauth"),
            &[
                ("client_id", fakes::jira::CLIENT_ID),
                ("client_secret", fakes::jira::CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    jira.set_redirect_uri(&format!("{}/auth/jira/callback", w.app.state.internal_url));
    for (key, name) in [
        (super::world::ALICE_KEY, "alice"),
        (super::world::BOB_KEY, "bob"),
    ] {
        jira.add_user(key, name, &format!("{name} (second Jira)"));
    }
    OtherInstance {
        public_id,
        id,
        jira,
    }
}

/// The id of the instance with this public ID.
pub fn instance_row(w: &World, public_id: &str) -> Uuid {
    jira_teams_bridge::db::models::jira_instance::JiraInstance::find_by_public_id(
        &mut w.conn(),
        public_id,
    )
    .unwrap()
    .unwrap()
    .id
}

/// Sessions stored for a Jira user of an instance.
pub fn sessions_of(w: &World, instance: Uuid, key: &str) -> i64 {
    use jira_teams_bridge::db::schema::jira_user_session as s;
    s::table
        .filter(s::jira_instance_id.eq(instance))
        .filter(s::jira_user_key.eq(key))
        .count()
        .get_result(&mut w.conn())
        .unwrap()
}

/// Runs SQL against the world's database (moving a session's clock, say).
pub fn sql(w: &World, statement: &str) -> usize {
    diesel::sql_query(statement).execute(&mut w.conn()).unwrap()
}

/// Where the *Link Microsoft account* answer goes on to: the page's *Continue* link (it answers
/// 200 with a page, not a redirect, which `form-action 'self'` would block after a form post).
pub async fn continue_url(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200, "the continue page");
    let html = res.text().await.unwrap();
    assert!(html.contains("http-equiv=\"refresh\""), "{html}");
    super::app::between(&html, "id=\"continue\" href=\"", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
