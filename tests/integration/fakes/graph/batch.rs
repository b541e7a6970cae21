//! `/me` and JSON batching (`/$batch`): each item on its own, dependents failed with 424.

use super::*;

pub(super) async fn me(req: HttpRequest, fake: web::Data<Graph>) -> HttpResponse {
    let caller = ok_or_return!(fake.caller(&req));
    let Some(oid) = caller.oid else {
        return bad_request("/me request is only valid with delegated authentication flow.");
    };
    let Some(user) = fake.entra.find_user(&oid) else {
        return error(404, "Request_ResourceNotFound", "User not found.");
    };
    HttpResponse::Ok().json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#users/$entity", fake.base),
        "id": user.oid,
        "userPrincipalName": user.upn,
        "displayName": user.name,
        "mail": user.upn,
    }))
}

/// `POST /v1.0/$batch` (PROTOCOLS §2.7): at most 20 requests with unique (case-insensitive) ids,
/// relative urls, `headers` with `Content-Type` whenever there is a `body`. Each item runs
/// through the same app in-process, so it is authenticated, logged and throttled on its own (an
/// inner 429 carries its own `Retry-After`). Items run in order; an item whose `dependsOn`
/// failed gets 424. Responses come back in reverse order, since Graph promises no order.
pub(super) async fn batch(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Graph>,
) -> HttpResponse {
    let body = ok_or_return!(parse_json(&body));
    let Some(items) = body["requests"].as_array() else {
        return bad_request("requests is required.");
    };
    if items.is_empty() || items.len() > 20 {
        return bad_request("A batch holds 1 to 20 requests.");
    }
    let mut ids = HashSet::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        if id.is_empty() || !ids.insert(id) {
            return bad_request("Every request needs a unique id.");
        }
        let method_ok = matches!(
            item["method"].as_str(),
            Some("GET" | "POST" | "PUT" | "PATCH" | "DELETE")
        );
        if !method_ok || !item["url"].as_str().is_some_and(|u| u.starts_with('/')) {
            return bad_request("Every request needs a method and a relative url.");
        }
        if !item["body"].is_null() && item["headers"]["Content-Type"].as_str().is_none() {
            return bad_request("Content-Type header must be specified when a body is present.");
        }
        let deps_known = item["dependsOn"].as_array().is_none_or(|deps| {
            deps.iter().all(|d| {
                d.as_str()
                    .is_some_and(|d| ids.contains(&d.to_ascii_lowercase()))
            })
        });
        if !deps_known {
            return bad_request("dependsOn must name an earlier request.");
        }
    }
    let service = actix_web::test::init_service(app(fake.clone())).await;
    let authorization = req.headers().get("authorization").cloned();
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        let failed_dependency = item["dependsOn"].as_array().is_some_and(|deps| {
            deps.iter().any(|d| {
                let d = d.as_str().unwrap_or_default().to_ascii_lowercase();
                !statuses.get(&d).is_some_and(|s| (200..300).contains(s))
            })
        });
        if failed_dependency {
            statuses.insert(id.to_ascii_lowercase(), 424);
            responses.push(json!({"id": id, "status": 424, "headers": {}, "body": {
                "error": {"code": "FailedDependency", "message": "A dependency failed.",
                          "innerError": inner_error()}}}));
            continue;
        }
        let method = item["method"].as_str().unwrap_or_default();
        let mut inner = actix_web::test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&format!(
                "/v1.0{}",
                item["url"].as_str().unwrap_or_default()
            ));
        if let Some(auth) = &authorization {
            inner = inner.insert_header(("authorization", auth.clone()));
        }
        if let Some(headers) = item["headers"].as_object() {
            for (k, v) in headers {
                inner = inner.insert_header((k.as_str(), v.as_str().unwrap_or_default()));
            }
        }
        if !item["body"].is_null() {
            inner = inner.set_payload(item["body"].to_string());
        }
        let res = actix_web::test::call_service(&service, inner.to_request()).await;
        let status = res.status().as_u16();
        let headers: serde_json::Map<String, Value> = res
            .headers()
            .iter()
            .filter(|(k, _)| *k == "retry-after" || *k == "content-type" || *k == "location")
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let bytes = actix_web::test::read_body(res).await;
        let inner_body = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
        statuses.insert(id.to_ascii_lowercase(), status);
        responses.push(json!({"id": id, "status": status, "headers": headers, "body": inner_body}));
    }
    responses.reverse();
    HttpResponse::Ok().json(json!({"responses": responses}))
}
