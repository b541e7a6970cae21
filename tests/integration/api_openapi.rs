//! The OpenAPI document describes every route, and every route answers as documented.

use crate::support::jwt::{app_with_instance, call, send};
use serde_json::{Value, json};

#[actix_web::test]
async fn the_openapi_document_lists_every_route_and_each_answers_as_documented() {
    let (app, jira) = app_with_instance().await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["components"]["securitySchemes"]["jiraJwt"].is_object());
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    let mut names: Vec<String> = operations
        .iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "DELETE /api/v1/issues/{issue_id}/chats/{chat_id}",
            "DELETE /api/v1/jsm/portal-apps/{id}",
            "DELETE /api/v1/me",
            "GET /api/v1/issues/{issue_id}/chats",
            "GET /api/v1/issues/{issue_id}/chats/{chat_id}/access",
            "GET /api/v1/issues/{issue_id}/chats/{chat_id}/messages",
            "GET /api/v1/jsm/portal-apps",
            "GET /api/v1/jsm/portal-apps/{id}",
            "GET /api/v1/me",
            "GET /api/v1/settings/{name}",
            "GET /api/v1/teams-users/{id}/settings",
            "POST /api/v1/issues/{issue_id}/chats",
            "POST /api/v1/issues/{issue_id}/chats/create",
            "POST /api/v1/issues/{issue_id}/chats/{chat_id}/messages",
            "PUT /api/v1/issues/{issue_id}/chats/{chat_id}/access",
            "PUT /api/v1/jsm/portal-apps/{id}",
            "PUT /api/v1/settings/{name}",
        ]
    );
    for (method, path, op) in &operations {
        let documented: Vec<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(documented.contains(&401), "{method} {path} documents 401");
        let concrete = path
            .replace("{issue_id}", "10045")
            .replace("{chat_id}", "19:x@thread.v2")
            .replace("{name}", "appearance")
            .replace(
                "{id}",
                if path.contains("teams-users") {
                    "29:someone"
                } else {
                    "69000be7-4659-4659-900e-3cebf257ec5a"
                },
            );
        let body = op.get("requestBody").map(|_| json!({}));
        let res = call(
            &app,
            &jira,
            method,
            &concrete,
            "JIRAUSER10100",
            body.clone(),
        )
        .await;
        let status = res.status().as_u16();
        assert!(
            documented.contains(&status),
            "{method} {concrete} answered {status}, documented {documented:?}"
        );
        if status >= 400 {
            assert_eq!(
                res.headers().get("content-type").unwrap(),
                "application/problem+json",
                "{method} {concrete}"
            );
        }
        let unauthenticated = send(&app, method, &concrete, None, body).await;
        assert_eq!(
            unauthenticated.status(),
            401,
            "{method} {concrete} without a token"
        );
    }
}
