//! The OpenAPI 3.1 document of `/api/v1`, generated at compile time from the handlers'
//! `#[utoipa::path]` attributes and the response types, served at `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

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
    modifiers(&JwtScheme)
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
