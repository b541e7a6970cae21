//! Jira webhooks: the recorded bodies in `tests/integration/fixtures/jira`, the URL an instance
//! takes them at, and posting one.

use super::app::{TestApp, between};
use super::world::World;

/// The recorded webhook body `fixtures/jira/<name>.json`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/integration/fixtures/jira")
            .join(format!("{name}.json")),
    )
    .unwrap()
}

/// Makes a webhook URL token on the admin page; returns the path (with token) Jira posts to.
pub async fn webhook_path(w: &World) -> String {
    let html = w
        .app
        .post_form(
            &format!("/admin/instances/{}/webhook/token", w.instance_id),
            &[],
        )
        .await
        .text()
        .await
        .unwrap();
    let url = between(
        &html,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    );
    url.trim_start_matches(&w.app.state.internal_url).to_owned()
}

/// Posts the fixture `name` to `path` of `app`; fails unless it is accepted.
pub async fn post_fixture(app: &TestApp, path: &str, name: &str) {
    post_fixture_to(&app.url(path), name).await;
}

/// Posts the fixture `name` to the full URL `url`; fails unless it is accepted.
pub async fn post_fixture_to(url: &str, name: &str) {
    let res = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .body(fixture(name))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}
