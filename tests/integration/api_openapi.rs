//! The OpenAPI document describes every route, every route answers as documented, and its
//! patterns compile and mean what the server checks, as JavaScript validators read them.

use crate::support::ecma_regex::{node_compile, node_matches, unicode_mode_error};
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

/// Every `pattern` in the document (and every `patternProperties` key), with its JSON path.
fn patterns(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{path}/{k}");
                match (k.as_str(), child) {
                    ("pattern", Value::String(p)) => out.push((here.clone(), p.clone())),
                    ("patternProperties", Value::Object(props)) => {
                        out.extend(props.keys().map(|p| (format!("{here}/{p}"), p.clone())))
                    }
                    _ => {}
                }
                patterns(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                patterns(child, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[actix_web::test]
async fn every_pattern_in_the_openapi_document_compiles_as_javascript_validators_compile_it() {
    let (app, _) = app_with_instance().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut found = Vec::new();
    patterns(&doc, "", &mut found);
    assert!(
        found
            .iter()
            .any(|(path, _)| path.ends_with("/NewMember/properties/upn/pattern")),
        "the UPN pattern is among {found:#?}"
    );
    let mut broken: Vec<String> = found
        .iter()
        .filter_map(|(path, p)| {
            unicode_mode_error(p).map(|e| format!("{path}: {p}: {e} (Unicode-mode grammar)"))
        })
        .collect();
    let sources: Vec<String> = found.iter().map(|(_, p)| p.clone()).collect();
    match node_compile(&sources) {
        Some(verdicts) => broken.extend(
            found
                .iter()
                .zip(verdicts)
                .filter_map(|((path, p), v)| v.map(|e| format!("{path}: {p}: {e} (node)"))),
        ),
        None => println!("note: node is not installed; patterns checked against the grammar only"),
    }
    assert!(
        broken.is_empty(),
        "patterns that ajv or Redocly cannot compile (new RegExp(p, \"u\")):\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_unicode_mode_check_tells_valid_from_invalid_patterns_as_javascript_does() {
    let cases = [
        (r"^[1-9][0-9]{0,17}$", true),
        (
            r"^19:[^\s/\x00-\x1f\x7f-\x9f]+@(thread\.v2|unq\.gbl\.spaces)$",
            true,
        ),
        (r#"^[^'"\\]+$"#, true),
        (
            r"^\p{L}+\u{1F600}\uD83D\uDE00[\uD83D\uDE00-\uD83D\uDE4F]\cJ\0$",
            true,
        ),
        (
            r"(?<year>\d{4})-\k<year>(?:x|y)*?(?=a)(?<!b)\1\/[\b\-]",
            true,
        ),
        (r#"^[^'\"]+$"#, false),
        (r"\a", false),
        (r"\-", false),
        (r"[\d-z]", false),
        (r"[z-a]", false),
        (r"a{2", false),
        (r"a}", false),
        (r"]", false),
        (r"\2(a)", false),
        (r"\k<nope>(?<yes>a)", false),
        (r"\x4", false),
        (r"\u12", false),
        (r"\u{110000}", false),
        (r"\c1", false),
        (r"[\B]", false),
        (r"\01", false),
        (r"\p", false),
        (r"a**", false),
        (r"(?=a)*", false),
        (r"(a", false),
        (r"a)", false),
        (r"[a", false),
        ("a\\", false),
    ];
    for (p, ok) in cases {
        assert_eq!(
            unicode_mode_error(p).is_none(),
            ok,
            "{p}: {:?}",
            unicode_mode_error(p)
        );
    }
    let sources: Vec<String> = cases.iter().map(|(p, _)| (*p).to_owned()).collect();
    match node_compile(&sources) {
        Some(verdicts) => {
            for ((p, ok), v) in cases.iter().zip(verdicts) {
                assert_eq!(v.is_none(), *ok, "node disagrees on {p}: {v:?}");
            }
        }
        None => println!("note: node is not installed; the cases were not checked against it"),
    }
}

#[actix_web::test]
async fn the_server_accepts_exactly_the_upns_the_documented_schema_accepts() {
    let (app, jira) = app_with_instance().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let upn = &doc["components"]["schemas"]["NewMember"]["properties"]["upn"];
    let max_chars = upn["maxLength"].as_u64().unwrap() as usize;
    let pattern = upn["pattern"].as_str().unwrap();
    let long_local = "é".repeat(max_chars - "@x.example".len());
    let cases: Vec<(String, bool)> = vec![
        ("carol@contoso.example".into(), true),
        ("carol@sub@contoso.example".into(), true),
        ("Ünïcødé@contoso.example".into(), true),
        // within maxLength in characters, though longer in UTF-8 bytes
        (format!("{long_local}@x.example"), true),
        (format!("{long_local}e@x.example"), false),
        ("carol@contoso".into(), false),
        ("@contoso.example".into(), false),
        ("carol".into(), false),
        ("ca\"rol@contoso.example".into(), false),
        ("ca'rol@contoso.example".into(), false),
        ("ca\\rol@contoso.example".into(), false),
        ("ca rol@contoso.example".into(), false),
        ("ca;rol@contoso.example".into(), false),
        ("carol@contoso/x.example".into(), false),
        ("ca\u{7f}rol@contoso.example".into(), false),
        ("ca\u{85}rol@contoso.example".into(), false),
        ("ca\u{9f}rol@contoso.example".into(), false),
        ("ca\u{a0}rol@contoso.example".into(), false),
        ("ca\u{2028}rol@contoso.example".into(), false),
        ("ca\u{3000}rol@contoso.example".into(), false),
        ("ca\u{feff}rol@contoso.example".into(), false),
    ];
    for (upn, valid) in &cases {
        let res = call(
            &app,
            &jira,
            "POST",
            "/api/v1/issues/10045/chats/create",
            "JIRAUSER10100",
            Some(json!({"members": [{"upn": upn}]})),
        )
        .await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let refused = status == 400 && body["code"] == "invalid_member";
        assert_eq!(!refused, *valid, "{upn:?}: {status} {body}");
    }
    let inputs: Vec<String> = cases.iter().map(|(u, _)| u.clone()).collect();
    match node_matches(pattern, &inputs) {
        Some(matched) => {
            for ((upn, valid), m) in cases.iter().zip(matched) {
                let schema = m && upn.chars().count() <= max_chars;
                assert_eq!(schema, *valid, "the schema's verdict on {upn:?}");
            }
        }
        None => println!("note: node is not installed; the pattern's verdicts were not checked"),
    }
}
