//! The Jira user's session cookie arrives on a cross-site top-level navigation (JIRA-SURFACE.md:
//! the user comes through a link in the Jira issue, on another site, so the cookie is
//! `SameSite=Lax`; Strict would drop it). In a Chromium that runs no script: sign in with Jira
//! once, then click a link to the account page on a page of another site (`localhost` versus
//! the appliance's `127.0.0.1`, another port), and the page opens without a new sign-in. The
//! admin session's Strict cookie, withheld on the same kind of click, shows the click really
//! was cross-site.

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::support::app::ADMIN_PASSWORD;
use crate::support::browser::{Browser, Javascript};
use crate::support::world::{ALICE_KEY, world};

/// A page on another site (`http://localhost:<port>/`) with links into the appliance, as a
/// Jira issue's remote link would be.
fn other_site(links: Vec<(&'static str, String)>) -> String {
    let html: String = links
        .iter()
        .map(|(id, href)| format!("<p><a id=\"{id}\" href=\"{href}\">{id}</a></p>"))
        .collect();
    let body = format!("<!doctype html><title>Jira issue ABC-1</title><h1>ABC-1</h1>{html}");
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    format!("http://localhost:{port}/")
}

fn authorize_calls(jira: &crate::fakes::jira::Jira) -> usize {
    jira.requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, p)| p.contains("/rest/oauth2/latest/authorize"))
        .count()
}

#[actix_web::test]
async fn a_link_on_another_site_opens_the_account_page_already_signed_in_with_jira() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    assert!(
        w.app.base.starts_with("http://127.0.0.1:"),
        "the other site must differ by host: {}",
        w.app.base
    );
    let me = w.app.url(&format!("/jira/{pid}/me"));
    let issue_page = other_site(vec![
        ("to-account", me.clone()),
        ("to-admin", w.app.url("/admin")),
    ]);
    let browser = Browser::start_with("jira_cookie_cross_site", Javascript::Off).await;

    // the admin signs in too, in the same browser: their session cookie is Strict
    browser.goto(&w.app.url("/login")).await;
    browser.fill("#username", "admin").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("form[action='/login'] button").await;
    assert_eq!(browser.heading().await, "Dashboard");

    // signing in with Jira once: the account page asks Jira, Jira sends the browser back
    w.jira.sign_in_as(ALICE_KEY);
    browser.goto(&me).await;
    assert_eq!(browser.path().await, format!("/jira/{pid}/me"));
    assert_eq!(browser.heading().await, "Your account");
    browser.shot("signed-in-with-jira").await;
    let sign_ins = authorize_calls(&w.jira);
    assert_eq!(sign_ins, 1);

    // from the other site, a click on the link: the account page, no new sign-in
    browser.goto(&issue_page).await;
    assert_eq!(browser.heading().await, "ABC-1");
    browser.shot("page-on-another-site").await;
    browser.click("#to-account").await;
    assert_eq!(browser.path().await, format!("/jira/{pid}/me"));
    assert_eq!(browser.heading().await, "Your account");
    let text = browser.text().await;
    assert!(text.contains("alice (Jira)"), "{text}");
    assert!(text.contains(ALICE_KEY));
    browser.shot("account-page-after-cross-site-click").await;
    assert_eq!(
        authorize_calls(&w.jira),
        sign_ins,
        "the session cookie came along: Jira was not asked again"
    );

    // the same click to an admin page: the Strict admin cookie stays behind, so the click was
    // cross-site indeed; typed in directly, the admin is still signed in
    browser.goto(&issue_page).await;
    browser.click("#to-admin").await;
    assert_eq!(browser.path().await, "/login");
    browser.shot("admin-page-after-cross-site-click").await;
    browser.goto(&w.app.url("/admin")).await;
    assert_eq!(browser.heading().await, "Dashboard");
    browser.quit().await;
}
