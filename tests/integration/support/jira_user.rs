//! A Jira user in a browser of their own on the appliance's Jira pages (`/jira/…`): signing in
//! with Jira through the Jira double's consent page, and reading the pages they get.

use super::world::{World, browser, follow};

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
