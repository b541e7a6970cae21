//! The OpenAPI 3.1 document of `/api/v1`, generated at compile time from the handlers'
//! `#[utoipa::path]` attributes and the response types, served at `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::{chat_relay, issue_chats, me, settings};
use crate::error::ProblemDoc;

struct JwtScheme;

impl utoipa::Modify for JwtScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jiraJwt",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`JWT <token>`: HS256 with the instance's shared secret; iss = public ID, sub = Jira user key, qsh = hash of the canonical request, exp - iat ≤ 600 s; single use for state-changing calls",
            ))),
        );
    }
}

/// The 400s that the scope's extractors answer before a handler runs (`routes`: `JsonConfig`
/// and `QueryConfig`), added to every operation that has a body or query parameters, so the
/// document cannot forget them as handlers come and go.
struct ExtractorErrors;

fn extractor_codes(op: &Operation) -> Vec<&'static str> {
    let mut codes = Vec::new();
    if op.request_body.is_some() {
        codes.push("invalid_json");
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)));
    if has_query {
        codes.push("invalid_query");
    }
    codes
}

impl utoipa::Modify for ExtractorErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let codes = extractor_codes(op);
                if codes.is_empty() {
                    continue;
                }
                match op.responses.responses.get_mut("400") {
                    Some(RefOr::T(bad)) => {
                        for code in codes {
                            if !bad.description.contains(code) {
                                bad.description.push_str(&format!(", {code}"));
                            }
                        }
                    }
                    Some(RefOr::Ref(_)) => {}
                    None => {
                        let problem = ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ProblemDoc")))
                            .build();
                        let bad = ResponseBuilder::new()
                            .description(codes.join(", "))
                            .content("application/problem+json", problem)
                            .build();
                        op.responses.responses.insert("400".into(), RefOr::T(bad));
                    }
                }
            }
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "jira-teams-bridge API for the Jira DC app", description = "Called by the Jira Data Center app for its signed-in user. Errors are application/problem+json with a stable `code`."),
    paths(
        me::get_me, me::delete_me,
        issue_chats::list_issue_chats, issue_chats::link_issue_chat, issue_chats::unlink_issue_chat,
        issue_chats::get_chat_access, issue_chats::set_chat_access,
        chat_relay::create_issue_chat, chat_relay::list_chat_messages, chat_relay::post_chat_message,
        settings::get_setting, settings::put_setting,
        settings::list_portal_apps, settings::get_portal_app, settings::put_portal_app, settings::delete_portal_app,
        settings::get_teams_user_settings,
    ),
    components(schemas(ProblemDoc)),
    modifiers(&JwtScheme, &ExtractorErrors)
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json` (no authentication: it describes, it does not reveal).
pub async fn openapi_json() -> HttpResponse {
    match ApiDoc::openapi().to_json() {
        Ok(json) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json),
        Err(e) => actix_web::ResponseError::error_response(&crate::error::AppError::internal(e)),
    }
}
