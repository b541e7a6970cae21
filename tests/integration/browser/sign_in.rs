//! First-run setup, sign-in and logout, clicked through in Chromium.

use crate::support::app::{ADMIN_PASSWORD, spawn_app};
use crate::support::browser::{Browser, complete_setup};

#[actix_web::test]
async fn first_run_setup_in_a_browser_creates_the_admin_who_can_then_sign_in() {
    let app = spawn_app().await;
    let browser = Browser::start("first_run_setup_then_sign_in").await;

    // without the one-time link, every page leads to setup, which asks for the link
    browser.goto(&app.url("/admin")).await;
    assert_eq!(browser.path().await, "/setup");
    assert!(
        browser
            .text()
            .await
            .contains("needs the one-time setup link"),
        "{}",
        browser.text().await
    );
    browser.shot("setup-without-the-link").await;

    // with it: a too-short password is refused next to the field, and the name is kept
    browser.goto(app.setup_url.as_deref().unwrap()).await;
    browser.shot("setup-form").await;
    browser.fill("#username", "admin").await;
    browser.fill("#password", "short").await;
    browser.fill("#password_confirm", "short").await;
    browser.click("form[action='/setup'] button").await;
    assert!(browser.text().await.contains("Use at least 12 characters."));
    assert_eq!(browser.value("#username").await, "admin");
    browser.shot("setup-password-too-short").await;

    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.fill("#password_confirm", ADMIN_PASSWORD).await;
    browser.click("form[action='/setup'] button").await;
    assert_eq!(browser.path().await, "/admin/instances?notice=welcome");
    let page = browser.text().await;
    assert!(page.contains("Setup is complete. Register your first Jira instance below."));
    assert!(page.contains("admin"), "the signed-in user is named");
    browser.shot("setup-done-welcome").await;

    // the link is burned: opening it again leads to sign-in, not to a second admin
    browser.click("form.logout button").await;
    assert_eq!(browser.path().await, "/login");
    browser.goto(app.setup_url.as_deref().unwrap()).await;
    assert_eq!(browser.path().await, "/login");
    assert_eq!(browser.heading().await, "Sign in");

    // a wrong password is refused on the page, the right one signs in
    browser.fill("#username", "admin").await;
    browser.fill("#password", "not the password").await;
    browser.click("form[action='/login'] button").await;
    assert!(
        browser
            .text()
            .await
            .contains("The user name or password is wrong.")
    );
    browser.shot("sign-in-wrong-password").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("form[action='/login'] button").await;
    assert_eq!(browser.path().await, "/admin");
    assert_eq!(browser.heading().await, "Dashboard");
    browser.shot("signed-in-dashboard").await;
    browser.quit().await;
}

#[actix_web::test]
async fn after_logging_out_the_admin_pages_send_you_to_sign_in() {
    let app = spawn_app().await;
    let browser = Browser::start("logout_sends_admin_pages_to_sign_in").await;
    complete_setup(&browser, &app).await;
    browser.goto(&app.url("/admin/data")).await;
    assert_eq!(browser.heading().await, "Data inventory");
    browser.shot("signed-in-data-inventory").await;

    browser.click("form.logout button").await;
    assert_eq!(browser.path().await, "/login");
    assert!(
        !browser.text().await.contains("Log out"),
        "no admin menu once signed out"
    );
    browser.shot("logged-out").await;

    // Back shows no admin page from the cache
    browser.client.back().await.unwrap();
    browser.shot("back-after-logout").await;
    assert!(
        !browser
            .text()
            .await
            .contains("Everything this appliance stores"),
        "the data inventory came back from the cache after logout"
    );

    for page in [
        "/admin",
        "/admin/instances",
        "/admin/data",
        "/admin/data/jira_instance",
        "/admin/audit",
    ] {
        browser.goto(&app.url(page)).await;
        assert_eq!(browser.path().await, "/login", "{page}");
        assert_eq!(browser.heading().await, "Sign in", "{page}");
    }
    browser.shot("admin-page-asks-to-sign-in").await;
    browser.quit().await;
}
