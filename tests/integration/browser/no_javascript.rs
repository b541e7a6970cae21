//! The admin pages promise to work without JavaScript (STYLE.md): setup, sign-in and instance
//! registration in a Chromium that runs no script at all.

use crate::fakes::jira;
use crate::support::app::{ADMIN_PASSWORD, spawn_app};
use crate::support::browser::{Browser, Javascript, complete_setup, register_instance};

#[actix_web::test]
async fn sign_in_and_registration_work_with_javascript_disabled() {
    let app = spawn_app().await;
    let (jira_url, _jira) = jira::start("/jira");
    let browser = Browser::start_with("no_javascript", Javascript::Off).await;

    // first make sure this browser really runs no script, or the test below proves nothing
    browser
        .goto("data:text/html,<p id=js>off</p><script>document.getElementById('js').textContent='on'</script>")
        .await;
    assert_eq!(browser.text().await, "off", "JavaScript is not disabled");

    complete_setup(&browser, &app).await;
    browser.shot("setup-done").await;
    let (public_id, secret) = register_instance(&browser, &app, &jira_url).await;
    assert_eq!(secret.len(), 43);
    browser.shot("registered").await;

    browser.click("form.logout button").await;
    assert_eq!(browser.path().await, "/login");
    browser.fill("#username", "admin").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("form[action='/login'] button").await;
    assert_eq!(browser.heading().await, "Dashboard");
    browser.goto(&app.url("/admin/instances")).await;
    let page = browser.text().await;
    assert!(
        page.contains(&jira_url) && page.contains(&public_id),
        "{page}"
    );
    browser.shot("signed-in-again-instances").await;
    browser.quit().await;
}
