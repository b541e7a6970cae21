//! The Jira app's signed requests to `/api/v1`, over real HTTP.

use crate::support::jwt::JiraApp;
use crate::support::jwt::{app_with_instance, call, claims, send, sign};
use diesel::prelude::*;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

async fn refused(res: reqwest::Response, code: &str, secret: &str) {
    assert_eq!(res.status(), 401, "expected {code}");
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let text = res.text().await.unwrap();
    assert!(!text.contains(secret), "the secret leaks into the error");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], 401);
}

#[actix_web::test]
async fn a_signed_request_sees_the_users_link_status() {
    let (app, jira) = app_with_instance().await;
    let res = call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unlinked");
    assert_eq!(body["jiraUser"], "JIRAUSER10100");
    assert_eq!(body["instance"], jira.public_id.as_str());
    let mut conn = app.db.conn();
    diesel::sql_query(format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) \
         SELECT gen_random_uuid(), id, 'JIRAUSER10100', '0e3419f7-4c4d-47e7-b98a-7b9b9de02b80', '0c60ce18-654d-441a-badf-14404098f38e' FROM jira_instance WHERE public_id = '{}'",
        jira.public_id
    ))
    .execute(&mut conn)
    .unwrap();
    let body: Value = call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "linked");
    assert_eq!(
        body["microsoft"]["userId"],
        "0c60ce18-654d-441a-badf-14404098f38e"
    );
    // another user of the same instance is not linked
    let body: Value = call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10200", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "unlinked");
    // unlinking erases the mapping
    assert_eq!(
        call(&app, &jira, "DELETE", "/api/v1/me", "JIRAUSER10100", None)
            .await
            .status(),
        204
    );
    let body: Value = call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "unlinked");
}

#[actix_web::test]
async fn the_shared_secret_is_read_through_the_audited_vault() {
    let (app, jira) = app_with_instance().await;
    for _ in 0..3 {
        assert_eq!(
            call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None)
                .await
                .status(),
            200
        );
    }
    let mut conn = app.db.conn();
    let rows: Vec<(String, String, String)> =
        jira_teams_bridge::db::schema::secret_access_audit::table
            .select((
                jira_teams_bridge::db::schema::secret_access_audit::actor_kind,
                jira_teams_bridge::db::schema::secret_access_audit::purpose,
                jira_teams_bridge::db::schema::secret_access_audit::outcome,
            ))
            .load(&mut conn)
            .unwrap();
    // one decryption serves the burst (cached a few minutes), and it is audited
    assert_eq!(
        rows,
        vec![(
            "api".to_owned(),
            "verify Jira app request signature".to_owned(),
            "ok".to_owned()
        )]
    );
    // a regenerated secret is read again at once, and the old one stops working
    let id: uuid::Uuid = jira_teams_bridge::db::schema::jira_instance::table
        .select(jira_teams_bridge::db::schema::jira_instance::id)
        .first(&mut conn)
        .unwrap();
    let res = app
        .post_form(&format!("/admin/instances/{id}/regenerate"), &[])
        .await;
    let html = res.text().await.unwrap();
    let new_secret = crate::support::app::between(
        &html,
        "<code id=\"shared-secret\" class=\"secret\">",
        "</code>",
    );
    refused(
        call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None).await,
        "jwt_signature",
        &jira.secret,
    )
    .await;
    let renewed = JiraApp {
        public_id: jira.public_id.clone(),
        secret: new_secret,
    };
    assert_eq!(
        call(&app, &renewed, "GET", "/api/v1/me", "JIRAUSER10100", None)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn every_bad_token_is_refused_with_its_code() {
    let (app, jira) = app_with_instance().await;
    let s = &jira.secret;
    let base = claims(&jira, "GET", "/api/v1/me", "JIRAUSER10100");
    let jwt = |c: &Value| format!("JWT {}", sign(s, c));
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        jwt(&c)
    };
    let mut no_qsh = base.clone();
    no_qsh.as_object_mut().unwrap().remove("qsh");
    let none = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "JWT {}.{}.",
            e.encode(r#"{"alg":"none","typ":"JWT"}"#),
            e.encode(base.to_string())
        )
    };
    let hs512 = encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &base,
        &EncodingKey::from_secret(s.as_bytes()),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    // (method, Authorization header, expected code)
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("GET", None, "jwt_missing"),
        (
            "GET",
            Some(format!("Bearer {}", sign(s, &base))),
            "jwt_missing",
        ),
        ("GET", Some("JWT not.a.jwt".into()), "jwt_malformed"),
        ("GET", Some(none), "jwt_alg"),
        ("GET", Some(format!("JWT {hs512}")), "jwt_alg"),
        (
            "GET",
            Some(format!("JWT {}", sign("not the secret", &base))),
            "jwt_signature",
        ),
        ("GET", Some(with("exp", json!(now - 120))), "jwt_expired"),
        ("GET", Some(with("exp", json!(now + 3600))), "jwt_lifetime"),
        ("GET", Some(with("qsh", json!("context-qsh"))), "jwt_qsh"),
        // a token for another request: other query, other method
        (
            "GET",
            Some(jwt(&claims(
                &jira,
                "GET",
                "/api/v1/me?x=1",
                "JIRAUSER10100",
            ))),
            "jwt_qsh",
        ),
        (
            "DELETE",
            Some(with("sub", json!("JIRAUSER10100"))),
            "jwt_qsh",
        ),
        ("GET", Some(jwt(&no_qsh)), "jwt_qsh"),
        (
            "GET",
            Some(with("aud", json!("someone-else"))),
            "jwt_claims",
        ),
        (
            "GET",
            Some(with("iss", json!("zzzzzzz"))),
            "instance_unknown",
        ),
        (
            "GET",
            Some(with("iss", json!("../../etc"))),
            "instance_unknown",
        ),
    ];
    for (method, auth, code) in cases {
        refused(send(&app, method, "/api/v1/me", auth, None).await, code, s).await;
    }
}

#[actix_web::test]
async fn a_disabled_instance_is_refused() {
    let (app, jira) = app_with_instance().await;
    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE jira_instance SET enabled = false")
        .execute(&mut conn)
        .unwrap();
    refused(
        call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None).await,
        "instance_disabled",
        &jira.secret,
    )
    .await;
    // a forged token for a disabled instance still gets the signature refusal, not the status
    let forged = sign(
        "guess",
        &claims(&jira, "GET", "/api/v1/me", "JIRAUSER10100"),
    );
    refused(
        send(
            &app,
            "GET",
            "/api/v1/me",
            Some(format!("JWT {forged}")),
            None,
        )
        .await,
        "jwt_signature",
        &jira.secret,
    )
    .await;
}

#[actix_web::test]
async fn a_token_used_for_a_change_cannot_be_used_again() {
    let (app, jira) = app_with_instance().await;
    let token = sign(
        &jira.secret,
        &claims(&jira, "DELETE", "/api/v1/me", "JIRAUSER10100"),
    );
    let auth = Some(format!("JWT {token}"));
    assert_eq!(
        send(&app, "DELETE", "/api/v1/me", auth.clone(), None)
            .await
            .status(),
        204
    );
    refused(
        send(&app, "DELETE", "/api/v1/me", auth, None).await,
        "jwt_replayed",
        &jira.secret,
    )
    .await;
    // reads may reuse a token within its lifetime
    let read = Some(format!(
        "JWT {}",
        sign(
            &jira.secret,
            &claims(&jira, "GET", "/api/v1/me", "JIRAUSER10100")
        )
    ));
    assert_eq!(
        send(&app, "GET", "/api/v1/me", read.clone(), None)
            .await
            .status(),
        200
    );
    assert_eq!(
        send(&app, "GET", "/api/v1/me", read, None).await.status(),
        200
    );
}

#[actix_web::test]
async fn the_api_behind_a_context_path_verifies_the_relative_qsh() {
    let app = crate::support::app::spawn_app_with(|s| {
        s.listen.internal_url = "https://bridge.example.com/teams-bridge".into()
    })
    .await;
    // registered directly: the admin UI would need the https origin of the proxy
    let secret = jira_teams_bridge::domain::SharedSecret::generate();
    let url = jira_teams_bridge::domain::JiraBaseUrl::parse("https://jira.example.com").unwrap();
    let mut conn = app.db.conn();
    let instance = jira_teams_bridge::db::models::jira_instance::JiraInstance::create(
        &mut conn,
        &app.state.vault,
        &url,
        &secret,
    )
    .unwrap();
    let jira = JiraApp {
        public_id: instance.public_id,
        secret: secret.expose().to_owned(),
    };
    // the proxy strips /teams-bridge; the Jira app signed the path relative to the base URL
    assert_eq!(
        call(&app, &jira, "GET", "/api/v1/me", "JIRAUSER10100", None)
            .await
            .status(),
        200
    );
}
