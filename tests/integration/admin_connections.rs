//! The admin pages for the Microsoft registration and each instance's Jira OAuth link: field
//! errors in place, secrets kept encrypted and never shown, and connection tests that say what is
//! wrong.

use diesel::prelude::*;

use crate::fakes;
use crate::support::app::{between, spawn_app_with};
use crate::support::world::save_microsoft;
use crate::support::world::world;

#[actix_web::test]
async fn a_bad_microsoft_registration_is_refused_field_by_field_and_nothing_is_saved() {
    let app = spawn_app_with(|_| {}).await;
    app.complete_setup().await;
    let res = app
        .post_form(
            "/admin/microsoft",
            &[
                ("cloud", "mars"),
                ("tenant_id", "common"),
                ("client_id", "not-a-guid"),
                ("client_secret", ""),
                ("bot_app_id", "nope"),
                ("teams_app_catalog_id", "<script>"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    for m in [
        "Choose one of the listed clouds",
        "common, organizations and consumers cannot be used",
        "client) id is a GUID",
        "Enter the client secret",
        "The bot app id is a GUID",
        "The catalog id is the GUID",
    ] {
        assert!(html.contains(m), "missing: {m}");
    }
    assert!(!html.contains("<script>"), "typed values are escaped");
    let mut conn = app.db.conn();
    let n: i64 = jira_teams_bridge::db::schema::microsoft_app::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn the_client_secret_is_stored_encrypted_kept_when_left_empty_and_never_shown() {
    let w = world().await;
    let html = w.app.get("/admin/microsoft").await.text().await.unwrap();
    assert!(!html.contains(fakes::entra::CLIENT_SECRET));
    assert!(html.contains("stored; leave empty to keep it"));
    assert!(html.contains(&format!(
        "{}/auth/microsoft/callback",
        w.app.state.internal_url
    )));
    let mut conn = w.conn();
    let blob: Option<Vec<u8>> = jira_teams_bridge::db::schema::microsoft_app::table
        .select(jira_teams_bridge::db::schema::microsoft_app::client_secret)
        .first(&mut conn)
        .unwrap();
    let blob = blob.unwrap();
    assert!(blob.starts_with(b"JTB1"));
    assert!(!String::from_utf8_lossy(&blob).contains(fakes::entra::CLIENT_SECRET));
    // saving again without a secret keeps the stored one (the test still passes)
    let res = save_microsoft(&w.app, "global", "", "", "").await;
    assert_eq!(res.status(), 200);
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("the app registration works"), "{html}");
    assert!(html.contains("signing keys are reachable"));
    assert!(html.contains("Microsoft Graph answers"));
}

#[actix_web::test]
async fn the_microsoft_connection_test_names_a_wrong_secret() {
    let w = world().await;
    let res = save_microsoft(&w.app, "global", "the-secret-id-not-its-value", "", "").await;
    assert_eq!(res.status(), 200);
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("the client secret is wrong"), "{html}");
    assert!(!html.contains("the-secret-id-not-its-value"));
}

#[actix_web::test]
async fn a_registration_pinned_in_config_is_read_only_on_the_page() {
    let app = spawn_app_with(|s| {
        s.microsoft.tenant_id = fakes::entra::TENANT_ID.into();
        s.microsoft.client_id = fakes::entra::CLIENT_ID.into();
        s.microsoft.client_secret = Some(secrecy::SecretString::from("x".to_owned()));
    })
    .await;
    app.complete_setup().await;
    let html = app.get("/admin/microsoft").await.text().await.unwrap();
    assert!(html.contains("pinned in <code>config.toml</code>"));
    assert!(html.contains("<fieldset disabled>"));
    let res = app
        .post_form(
            "/admin/microsoft",
            &[("cloud", "global"), ("tenant_id", "x"), ("client_id", "y")],
        )
        .await;
    assert_eq!(res.status(), 409);
}

#[actix_web::test]
async fn the_jira_oauth_test_tells_accepted_from_refused_clients() {
    let w = world().await;
    let path = format!("/admin/instances/{}/oauth", w.instance_id);
    let html = w.app.get(&path).await.text().await.unwrap();
    assert_eq!(
        between(&html, "<code id=\"redirect-url\">", "</code>"),
        format!("{}/auth/jira/callback", w.app.state.internal_url)
    );
    let html = w
        .app
        .post_form(&format!("{path}/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Jira answers at"), "{html}");
    assert!(html.contains("client id and secret are accepted"), "{html}");

    let res = w
        .app
        .post_form(
            &path,
            &[
                ("client_id", fakes::jira::CLIENT_ID),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = w
        .app
        .post_form(&format!("{path}/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("does not accept this client id and secret"),
        "{html}"
    );

    let res = w
        .app
        .post_form(&path, &[("client_id", ""), ("client_secret", "")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Enter the client id"));

    let res = w.app.post_form(&format!("{path}/remove"), &[]).await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not configured: users cannot link accounts")
    );
    // a user's sign-in link now stops with a clear page instead of a broken redirect
    let url = w.me(crate::support::world::ALICE_KEY).await["signInUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = crate::support::world::browser()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("no OAuth 2.0 link"));
}
