//! The Graph relay for the Jira app: create a Teams group chat for an issue, read its messages
//! (sanitised) and reply, always as a Microsoft user. Members and the creator read with their own
//! token; a Jira user reading a chat its creator shared is served with the creator's token, and
//! each such read writes its own audit row.
//!
//! `create` makes a chat for an issue; `messages` reads (sanitised) and replies. This module
//! holds what both need: the caller's link, the audit actor and Graph failures as API errors.

mod create;
mod messages;

// globs, so that the `__path_*` items `#[utoipa::path]` generates beside each handler travel
// with it and `openapi.rs` keeps naming `chat_relay::<handler>`
pub use create::*;
pub use messages::*;

use actix_web::http::StatusCode;

use super::jira_caller::JiraCaller;
use crate::clients::graph::GraphError;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::services::tokens;
use crate::state::AppState;

fn actor(caller: &JiraCaller) -> Actor {
    caller.actor()
}

async fn caller_mapping(
    state: &AppState,
    caller: &JiraCaller,
) -> Result<Option<UserMapping>, AppError> {
    let (id, key) = (caller.instance_id, caller.user_key.clone());
    Ok(db::run(&state.pool, move |conn| {
        Ok(UserMapping::find(conn, id, &key)?)
    })
    .await?)
}

fn not_linked() -> AppError {
    AppError::client(
        StatusCode::FORBIDDEN,
        "not_linked",
        "Link your Microsoft account first (GET /api/v1/me gives the sign-in link).",
    )
}

/// Maps a Graph failure to the API; a refused token marks the link for a new sign-in.
async fn graph_error(state: &AppState, mapping: &UserMapping, e: GraphError) -> AppError {
    match e {
        GraphError::Unauthorized { .. } => {
            let id = mapping.id;
            let _ = db::run(&state.pool, move |conn| {
                Ok(UserMapping::mark_needs_reauth(
                    conn,
                    id,
                    "Microsoft refused the stored token",
                )?)
            })
            .await;
            tokens::needs_sign_in("Microsoft refused the stored token")
        }
        GraphError::Throttled { retry_after_secs } => AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "graph_throttled",
            format!("Microsoft Graph is throttling; retry in {retry_after_secs} s."),
        ),
        GraphError::Status { status: 403, .. } => AppError::client(
            StatusCode::FORBIDDEN,
            "graph_forbidden",
            "Microsoft Graph refused: the user is not a member of this chat or lacks permission.",
        ),
        GraphError::Status { status: 404, .. } => AppError::client(
            StatusCode::NOT_FOUND,
            "teams_chat_not_found",
            "Teams does not know this chat (deleted?).",
        ),
        GraphError::Status {
            status: 400,
            message,
            ..
        } => AppError::client(
            StatusCode::BAD_REQUEST,
            "graph_bad_request",
            format!("Microsoft Graph refused the request: {message}"),
        ),
        GraphError::ForeignLink => AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "The cursor is not one this API returned.",
        ),
        e => AppError::client(
            StatusCode::BAD_GATEWAY,
            "graph_unavailable",
            format!("Microsoft Graph could not be reached: {e}"),
        ),
    }
}

fn bad(code: &'static str, m: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, code, m)
}
