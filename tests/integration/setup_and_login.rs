//! First-run setup, sign-in, sessions, CSRF and login throttling.

use crate::support::app::{ADMIN_PASSWORD, TestApp, location, spawn_app, spawn_app_with};
use diesel::prelude::*;

fn admin_count(app: &TestApp) -> i64 {
    let mut conn = app.db.conn();
    jira_teams_bridge::db::schema::admin_user::table
        .count()
        .get_result(&mut conn)
        .unwrap()
}

#[actix_web::test]
async fn before_setup_every_page_redirects_to_setup() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/admin",
        "/admin/instances",
        "/login",
        "/admin/data",
        "/nonexistent",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/setup", "{path}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn setup_needs_the_token() {
    let app = spawn_app().await;
    let res = app.get("/setup").await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("needs the one-time setup link")
    );
    let res = app.get("/setup?token=wrong").await;
    assert_eq!(res.status(), 403);
    // posting with a forged token creates nothing
    let res = app
        .post_form(
            "/setup",
            &[
                ("token", "forged"),
                ("username", "eve"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(admin_count(&app), 0);
}

#[actix_web::test]
async fn the_setup_token_is_written_0600_to_the_state_dir() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let file = app.state_dir.0.join("setup-token");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        app.setup_token()
    );
    let key = std::fs::metadata(app.state_dir.0.join("master-key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[actix_web::test]
async fn a_short_password_is_refused_next_to_the_field_and_nothing_is_created() {
    let app = spawn_app().await;
    let token = app.setup_token();
    let res = app
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("username", "admin"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("class=\"field-error\">Use at least 12 characters."),
        "{html}"
    );
    let res = app
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", "something else!"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The passwords do not match.")
    );
    assert_eq!(admin_count(&app), 0);
    // the token still works after a refused attempt
    assert_eq!(
        app.get(&format!("/setup?token={token}")).await.status(),
        200
    );
}

#[actix_web::test]
async fn completing_setup_burns_the_token_and_signs_in() {
    let app = spawn_app().await;
    let token = app.setup_token();
    app.complete_setup().await;
    assert!(
        !app.state_dir.0.join("setup-token").exists(),
        "token file removed"
    );
    let mut conn = app.db.conn();
    let hash: Option<Vec<u8>> =
        jira_teams_bridge::db::models::setup_token::SetupToken::hash(&mut conn).unwrap();
    assert!(hash.is_none(), "token row removed");
    // signed in
    let res = app.get("/admin").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Dashboard"));
    // the burned token no longer opens setup, and cannot make a second admin
    let res = app.get(&format!("/setup?token={token}")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let res = app
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("username", "second"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(admin_count(&app), 1);
}

#[actix_web::test]
async fn the_session_cookie_is_httponly_and_strict() {
    let app = spawn_app().await;
    let token = app.setup_token();
    app.get(&format!("/setup?token={token}")).await;
    let res = app
        .post_form(
            "/setup",
            &[
                ("token", &token),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("password_confirm", ADMIN_PASSWORD),
            ],
        )
        .await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("jtb_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure flag ({cookie})"
    );
}

#[actix_web::test]
async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let res = app
        .post_raw(
            "/admin/instances",
            &[("base_url", "https://jira.example.com")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This form has expired or was sent from another site")
    );
    let res = app
        .post_raw(
            "/admin/instances",
            &[
                ("csrf", "forged-value-forged-value-forged-value-abc"),
                ("base_url", "https://jira.example.com"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    // the right token from a foreign origin is refused too
    let csrf = app.csrf().await;
    let res = app
        .client
        .post(app.url("/admin/instances"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("base_url", "https://jira.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // the right token from this site's own origin is accepted
    let res = app
        .client
        .post(app.url("/admin/instances"))
        .header("Origin", app.base.clone())
        .form(&[
            ("csrf", csrf.as_str()),
            ("base_url", "https://jira.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut conn = app.db.conn();
    diesel::sql_query("DELETE FROM jira_instance")
        .execute(&mut conn)
        .unwrap();
    // an opaque origin (sandboxed frame, privacy redirects) is refused
    let res = app
        .client
        .post(app.url("/admin/instances"))
        .header("Origin", "null")
        .form(&[
            ("csrf", csrf.as_str()),
            ("base_url", "https://jira.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // and logout needs it as well
    assert_eq!(app.post_raw("/logout", &[]).await.status(), 403);
    let mut conn = app.db.conn();
    let n: i64 = jira_teams_bridge::db::schema::jira_instance::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn logout_ends_the_session_and_login_starts_a_new_one() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let res = app.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    let res = app.get("/admin").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let res = app
        .post_form(
            "/login",
            &[("username", "ADMIN"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 303, "user names are case-insensitive");
    assert_eq!(app.get("/admin").await.status(), 200);
}

#[actix_web::test]
async fn repeated_wrong_passwords_block_sign_in_for_a_while() {
    let app = spawn_app_with(|s| {
        s.admin.login_max_failures = 3;
        s.admin.login_lockout_mins = 15;
    })
    .await;
    app.complete_setup().await;
    app.post_form("/logout", &[]).await;
    for i in 0..3 {
        let res = app
            .post_form(
                "/login",
                &[("username", "admin"), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(res.status(), 401, "attempt {i}");
        let html = res.text().await.unwrap();
        assert!(html.contains("The user name or password is wrong."));
        if i == 2 {
            assert!(html.contains("blocked for 15 minutes"), "{html}");
        }
    }
    // now even the right password is refused, with a clear message
    let res = app
        .post_form(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts. Try again in 15 minutes.")
    );
    assert_eq!(app.get("/admin").await.status(), 303);
    // once the window has passed, the right password works again
    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE login_attempt SET at = at - interval '16 minutes'")
        .execute(&mut conn)
        .unwrap();
    let res = app
        .post_form(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn idle_and_absolute_session_expiry_sign_the_admin_out() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE admin_session SET last_seen_at = now() - interval '31 minutes'")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(location(&app.get("/admin").await), "/login", "idle expiry");
    app.post_form(
        "/login",
        &[("username", "admin"), ("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(app.get("/admin").await.status(), 200);
    diesel::sql_query("UPDATE admin_session SET created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour'").execute(&mut conn).unwrap();
    assert_eq!(
        location(&app.get("/admin").await),
        "/login",
        "absolute expiry"
    );
}

#[actix_web::test]
async fn hostile_input_is_rendered_escaped() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let evil = "\"><script>alert(1)</script>";
    let res = app
        .post_form(
            "/admin/instances",
            &[("base_url", &format!("javascript:{evil}"))],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "raw script in page"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || html.contains("&#60;script&#62;"),
        "escaped echo expected"
    );
    app.post_form("/logout", &[]).await;
    let res = app
        .post_form("/login", &[("username", evil), ("password", "x")])
        .await;
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
}
