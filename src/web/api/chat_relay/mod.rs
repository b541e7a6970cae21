//! The Graph relay for the Jira app: create a Teams group chat for an issue, read its messages
//! (sanitised) and reply, always as a Microsoft user. Members and the creator read with their own
//! token; a Jira user reading a chat its creator shared is served with the creator's token, and
//! each such read writes its own audit row.
//!
//! `create` makes a chat for an issue; `messages` reads (sanitised) and replies. The work itself
//! is `services::chat_relay` and `services::chat_create`, shared with the pages for Jira users;
//! this module holds what both handlers need: the caller's link and bad-request errors.

mod create;
mod messages;

// globs, so that the `__path_*` items `#[utoipa::path]` generates beside each handler travel
// with it and `openapi.rs` keeps naming `chat_relay::<handler>`
pub use create::*;
pub use messages::*;

use actix_web::http::StatusCode;

use super::jira_caller::JiraCaller;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::services::chat_access;
use crate::state::AppState;

async fn caller_mapping(
    state: &AppState,
    caller: &JiraCaller,
) -> Result<Option<UserMapping>, AppError> {
    chat_access::mapping(state, caller.instance_id, &caller.user_key).await
}

fn bad(code: &'static str, m: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, code, m)
}
