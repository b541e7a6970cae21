//! Health endpoints, security headers, the public listener, TLS.

use crate::support::app::{TempDir, spawn_app, spawn_app_with};
use crate::support::tls::self_signed;

#[actix_web::test]
async fn health_and_readiness_answer_json() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["migrations"], "ok");
    assert_eq!(body["checks"]["master_key"], "ok");
}

#[actix_web::test]
async fn readiness_reports_an_unreachable_database() {
    let app = spawn_app().await;
    // cut the app's database away under it
    crate::support::app::cut_off_database(&app);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"], "unreachable");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "liveness does not depend on the database"
    );
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app_with(|s| s.listen.public = "127.0.0.1:0".into()).await;
    let public = app.public_base.clone().unwrap();
    let check = |what: &str, h: &reqwest::header::HeaderMap| {
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: no CSP"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline")
                && csp.contains("default-src 'none'"),
            "{what}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{what}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{what}");
        assert!(h.get("x-request-id").is_some(), "{what}");
    };
    check("setup redirect", app.get("/admin").await.headers());
    app.complete_setup().await;
    for path in ["/admin", "/healthz", "/nonexistent", "/admin/data/nope"] {
        check(path, app.get(path).await.headers());
    }
    check(
        "public 404",
        app.client
            .get(format!("{public}/admin"))
            .send()
            .await
            .unwrap()
            .headers(),
    );
    check(
        "public bot",
        app.client
            .post(format!("{public}/bot/messages"))
            .send()
            .await
            .unwrap()
            .headers(),
    );
}

#[actix_web::test]
async fn an_error_page_while_the_database_is_down_still_carries_the_headers() {
    let app = spawn_app().await;
    crate::support::app::cut_off_database(&app);
    let res = app.get("/admin").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("content-security-policy").is_some());
    let html = res.text().await.unwrap();
    assert!(
        html.contains("The database is not reachable right now"),
        "{html}"
    );
    assert!(
        !html.contains("connection"),
        "no internal cause in the page: {html}"
    );
}

#[actix_web::test]
async fn the_public_listener_serves_only_the_bot_endpoint() {
    let app = spawn_app_with(|s| s.listen.public = "127.0.0.1:0".into()).await;
    let public = app.public_base.clone().unwrap();
    app.complete_setup().await;
    for path in [
        "/admin",
        "/setup",
        "/login",
        "/healthz",
        "/admin/instances",
        "/api/v1/me",
        "/",
    ] {
        let res = app
            .client
            .get(format!("{public}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path} on the public listener");
        let body = res.text().await.unwrap();
        assert!(body.contains("not_found"), "{body}");
    }
    let res = app
        .client
        .post(format!("{public}/admin/instances"))
        .form(&[("base_url", "https://x.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .post(format!("{public}/bot/messages"))
        .json(&serde_json::json!({"type": "message"}))
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.status(),
        404,
        "the bot endpoint exists on the public listener"
    );
    assert!(
        !res.status().is_success(),
        "an unauthenticated activity is not accepted"
    );
    // and the internal listener does not serve the bot endpoint
    assert_eq!(
        app.client
            .post(app.url("/bot/messages"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[actix_web::test]
async fn the_internal_listener_serves_tls_with_secure_cookies() {
    let dir = TempDir::new();
    let (cert, key, pem) = self_signed(&dir.0);
    let app = spawn_app_with(|s| {
        s.listen.internal_tls_cert_file = cert;
        s.listen.internal_tls_key_file = key;
    })
    .await;
    assert!(app.base.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("strict-transport-security").is_some());
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // plain HTTP to the TLS port is not served
    let plain = app.base.replace("https://", "http://");
    let res = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
}

#[actix_web::test]
async fn the_daemon_recovers_when_the_database_drops_its_connections() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    {
        use diesel::prelude::*;
        let mut admin = PgConnection::establish(&crate::support::db::admin_database_url()).unwrap();
        // what a PostgreSQL restart does to the pool's idle connections
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            app.db.name
        ))
        .execute(&mut admin)
        .unwrap();
    }
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.get("/readyz").await.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(
        *statuses.last().unwrap(),
        200,
        "recovered without a restart: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 503).count() <= 4,
        "broken connections are dropped, not reused: {statuses:?}"
    );
}
