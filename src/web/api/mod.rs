//! `/api/v1`: the JSON API the Jira DC app calls for its signed-in user, authenticated with the
//! instance's HS256 JWT (see [`auth`]).

mod chat_relay;
mod issue_chats;
pub mod jira_caller;
mod me;
pub mod openapi;
mod settings;

use actix_web::web;

fn bad_request(code: &'static str, message: String) -> actix_web::Error {
    crate::error::AppError::client(actix_web::http::StatusCode::BAD_REQUEST, code, message).into()
}

/// API routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| bad_request("invalid_json", e.to_string())),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| bad_request("invalid_query", e.to_string())),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| bad_request("invalid_path", e.to_string())),
            )
            .route("/openapi.json", web::get().to(openapi::openapi_json))
            .route("/me", web::get().to(me::get_me))
            .route("/me", web::delete().to(me::delete_me))
            .route(
                "/issues/{issue_id}/chats",
                web::get().to(issue_chats::list_issue_chats),
            )
            .route(
                "/issues/{issue_id}/chats",
                web::post().to(issue_chats::link_issue_chat),
            )
            .route(
                "/issues/{issue_id}/chats/create",
                web::post().to(chat_relay::create_issue_chat),
            )
            .route(
                "/issues/{issue_id}/chats/{chat_id}",
                web::delete().to(issue_chats::unlink_issue_chat),
            )
            .route(
                "/issues/{issue_id}/chats/{chat_id}/messages",
                web::get().to(chat_relay::list_chat_messages),
            )
            .route(
                "/issues/{issue_id}/chats/{chat_id}/messages",
                web::post().to(chat_relay::post_chat_message),
            )
            .route(
                "/issues/{issue_id}/chats/{chat_id}/access",
                web::get().to(issue_chats::get_chat_access),
            )
            .route(
                "/issues/{issue_id}/chats/{chat_id}/access",
                web::put().to(issue_chats::set_chat_access),
            )
            .route("/settings/{name}", web::get().to(settings::get_setting))
            .route("/settings/{name}", web::put().to(settings::put_setting))
            .route(
                "/jsm/portal-apps",
                web::get().to(settings::list_portal_apps),
            )
            .route(
                "/jsm/portal-apps/{id}",
                web::get().to(settings::get_portal_app),
            )
            .route(
                "/jsm/portal-apps/{id}",
                web::put().to(settings::put_portal_app),
            )
            .route(
                "/jsm/portal-apps/{id}",
                web::delete().to(settings::delete_portal_app),
            )
            .route(
                "/teams-users/{id}/settings",
                web::get().to(settings::get_teams_user_settings),
            ),
    );
}
