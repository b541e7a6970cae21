//! Registering a Jira instance and finding it in the data inventory, in Chromium.

use diesel::prelude::*;
use jira_teams_bridge::db::schema::jira_instance;

use crate::fakes::jira;
use crate::support::app::{TestApp, spawn_app};
use crate::support::browser::{Browser, complete_setup, register_instance, shown_secret};

fn stored_instances(app: &TestApp) -> i64 {
    let mut conn = app.db.conn();
    jira_instance::table.count().get_result(&mut conn).unwrap()
}

#[actix_web::test]
async fn a_bad_jira_url_is_refused_on_the_page_and_a_good_one_shows_its_secret_only_once() {
    let app = spawn_app().await;
    let (jira_url, _jira) = jira::start("/jira");
    let browser = Browser::start("register_instance_secret_once").await;
    complete_setup(&browser, &app).await;
    browser.shot("instances-empty").await;

    // a URL without a scheme: the error is next to the field, the typing is kept, nothing stored
    browser.fill("#base_url", "jira.example.com/jira").await;
    browser
        .click("form[action='/admin/instances'] button")
        .await;
    let page = browser.text().await;
    assert!(page.contains("This is not a valid URL"), "{page}");
    assert!(page.contains("No instance is registered yet."), "{page}");
    assert_eq!(browser.value("#base_url").await, "jira.example.com/jira");
    assert_eq!(stored_instances(&app), 0, "nothing stored");
    browser.shot("bad-url-refused").await;

    // the Jira double's address is accepted; the page shows the secret in full, this once
    browser.fill("#base_url", &jira_url).await;
    browser
        .click("form[action='/admin/instances'] button")
        .await;
    assert_eq!(browser.heading().await, "Jira instance registered");
    let (public_id, secret) = shown_secret(&browser).await;
    assert_eq!(
        secret.len(),
        43,
        "a whole 256-bit secret is shown: {secret}"
    );
    let page = browser.text().await;
    assert!(page.contains(&jira_url), "{page}");
    assert!(page.contains("shown only now"), "{page}");
    assert_eq!(stored_instances(&app), 1);
    browser.shot("registered-secret-shown").await;

    // reloading sends the form again, which is refused as a duplicate: the secret is not
    // shown again and nothing is registered twice
    browser.client.refresh().await.unwrap();
    browser.shot("secret-page-reloaded").await;
    let page = browser.text().await;
    assert!(!page.contains(&secret), "reload showed the secret again");
    assert!(
        page.contains(&format!("{jira_url} is already registered.")),
        "{page}"
    );
    assert_eq!(stored_instances(&app), 1);

    // the instances page lists it with the secret shortened
    browser.goto(&app.url("/admin/instances")).await;
    let page = browser.text().await;
    assert!(
        page.contains(&jira_url) && page.contains(&public_id),
        "{page}"
    );
    assert!(page.contains(&format!("{}…", &secret[..6])), "{page}");
    assert!(!page.contains(&secret), "full secret shown again");
    browser.shot("instances-secret-shortened").await;

    // neither does going back to the page that showed it
    browser.client.back().await.unwrap();
    browser.shot("back-to-secret-page").await;
    assert!(
        !browser.text().await.contains(&secret),
        "Back showed the secret again"
    );
    assert_eq!(stored_instances(&app), 1);
    browser.quit().await;
}

#[actix_web::test]
async fn the_data_inventory_lists_the_registered_instance_with_its_secret_shortened() {
    let app = spawn_app().await;
    let (jira_url, _jira) = jira::start("/jira");
    let browser = Browser::start("data_inventory_lists_instance").await;
    complete_setup(&browser, &app).await;
    let (public_id, secret) = register_instance(&browser, &app, &jira_url).await;

    // reached through the menu, as an administrator would
    browser.goto(&app.url("/admin")).await;
    browser.click("header nav a[href='/admin/data']").await;
    assert_eq!(browser.heading().await, "Data inventory");
    browser.shot("data-inventory").await;
    browser.click("a[href='/admin/data/jira_instance']").await;
    assert_eq!(browser.heading().await, "Jira instances");
    let row = browser
        .client
        .find(fantoccini::Locator::Css("main table tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains(&jira_url), "{row}");
    assert!(row.contains(&public_id), "{row}");
    assert!(row.contains(&secret[..6]), "shortened secret: {row}");
    assert!(!browser.text().await.contains(&secret), "full secret shown");
    browser.shot("data-inventory-jira-instances").await;
    browser.quit().await;
}
