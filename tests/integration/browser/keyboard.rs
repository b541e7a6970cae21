//! Setup, sign-in and instance registration with the keyboard alone: only Tab, Enter and typed
//! characters reach the page, never a click. This pins the focus order (fields in reading
//! order, nothing unreachable) and that Enter submits with the form's own button.

use fantoccini::key::Key;

use crate::fakes::jira;
use crate::support::app::{ADMIN_PASSWORD, spawn_app};
use crate::support::browser::{Browser, shown_secret};

#[actix_web::test]
async fn setup_sign_in_and_registration_work_with_the_keyboard_alone() {
    let app = spawn_app().await;
    let (jira_url, _jira) = jira::start("/jira");
    let browser = Browser::start("keyboard_only").await;

    // setup: the first Tab lands in the user name, then each field in turn; Enter submits
    browser.goto(app.setup_url.as_deref().unwrap()).await;
    let before = browser.tab_to("input#username", 3).await;
    assert!(before.is_empty(), "focus passed {before:?} before the form");
    browser.type_text("admin").await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.focused().await, "input#password");
    browser.type_text(ADMIN_PASSWORD).await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.focused().await, "input#password_confirm");
    browser.type_text(ADMIN_PASSWORD).await;
    browser.shot("setup-typed").await;
    browser.press_enter().await;
    assert_eq!(browser.path().await, "/admin/instances?notice=welcome");
    browser.shot("setup-done").await;

    // registration: the menu and Log out come first, in reading order, then the URL field;
    // its next stop is the Register button, which Enter presses
    let stops = browser.tab_to("input#base_url", 20).await;
    let menu: Vec<&str> = stops.iter().map(String::as_str).collect();
    assert_eq!(
        menu,
        [
            "a \"Dashboard\"",
            "a \"Jira instances\"",
            "a \"Microsoft\"",
            "a \"Teams app\"",
            "a \"JSM portal apps\"",
            "a \"Linked users\"",
            "a \"Delivery queue\"",
            "a \"Data inventory\"",
            "a \"Audit log\"",
            "button \"Log out\"",
        ],
        "focus order before the registration form"
    );
    browser.type_text(&jira_url).await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.focused().await, "button \"Register\"");
    browser.shot("register-button-focused").await;
    browser.press_enter().await;
    assert_eq!(browser.heading().await, "Jira instance registered");
    let (_, secret) = shown_secret(&browser).await;
    assert_eq!(secret.len(), 43);
    browser.shot("registered").await;

    // log out: Tab to the button, Enter
    browser.tab_to("button \"Log out\"", 12).await;
    browser.press_enter().await;
    assert_eq!(browser.path().await, "/login");

    // sign in: user name first, Enter in the password field submits
    let before = browser.tab_to("input#username", 3).await;
    assert!(before.is_empty(), "focus passed {before:?} before the form");
    browser.type_text("admin").await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.focused().await, "input#password");
    browser.type_text(ADMIN_PASSWORD).await;
    browser.shot("sign-in-typed").await;
    browser.press_enter().await;
    assert_eq!(browser.path().await, "/admin");
    assert_eq!(browser.heading().await, "Dashboard");
    browser.shot("signed-in").await;
    browser.quit().await;
}
