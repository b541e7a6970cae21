//! Addresses nobody serves: a browser gets a page in the layout with a way back, programs keep
//! problem+json.

use crate::support::app::spawn_app;

async fn fetch(
    app: &crate::support::app::TestApp,
    path: &str,
    accept: &str,
) -> (u16, String, String) {
    let res = reqwest::Client::new()
        .get(app.url(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[actix_web::test]
async fn a_browser_on_an_unknown_page_gets_a_page_with_a_way_back() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (status, kind, body) = fetch(&app, "/admin/no-such-page", BROWSER).await;
    assert_eq!(status, 404);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(body.contains("<h1>Page not found</h1>"), "{body}");
    assert!(body.contains("href=\"/admin\""), "{body}");
    assert!(body.contains("/static/app.css"), "in the layout: {body}");

    // a Jira user's mistyped page leads back among the Jira user's pages
    let (pid, _) = app.register_instance("https://jira.example.com").await;
    let (status, _, body) = fetch(&app, &format!("/jira/{pid}/nothing/here"), BROWSER).await;
    assert_eq!(status, 404);
    assert!(body.contains(&format!("href=\"/jira/{pid}/me\"")), "{body}");
}

#[actix_web::test]
async fn programs_and_the_api_keep_problem_json_for_unknown_addresses() {
    let app = spawn_app().await;
    app.complete_setup().await;
    for (path, accept) in [
        ("/api/v1/no-such-thing", BROWSER),
        ("/webhooks/nowhere", BROWSER),
        ("/admin/no-such-page", "application/json"),
        ("/admin/no-such-page", "*/*"),
    ] {
        let (status, kind, body) = fetch(&app, path, accept).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(kind, "application/problem+json", "{path} {accept}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "not_found", "{body}");
    }
}
