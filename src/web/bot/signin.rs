//! Linking a Jira account from Teams (PROTOCOLS.md §6.4). STUB: being built.

use actix_web::HttpResponse;

use crate::clients::microsoft::MicrosoftConn;
use crate::error::AppError;
use crate::state::AppState;

use super::teams::TeamsContext;

/// `link`.
pub async fn link(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    _rest: &str,
) -> Result<(), AppError> {
    ctx.reply_text(state, "link", "Not available yet.").await
}

/// `unlink`.
pub async fn unlink(state: &AppState, ctx: &TeamsContext, _rest: &str) -> Result<(), AppError> {
    ctx.reply_text(state, "unlink", "Not available yet.").await
}

/// Whether a message is a typed-back verification code.
pub fn is_verification_code(_text: &str) -> bool {
    false
}

/// A typed-back verification code.
pub async fn verify_code(
    _state: &AppState,
    _ctx: &TeamsContext,
    _text: &str,
) -> Result<(), AppError> {
    Ok(())
}

/// `signin/verifyState`.
pub async fn verify_state(
    _state: &AppState,
    _ctx: &TeamsContext,
    _value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().finish())
}

/// A one-time sign-in URL for this Teams user (what `link` offers), for answers that ask an
/// unlinked user to link first (message-extension `auth` replies, sign-in cards).
pub async fn sign_in_url(_state: &AppState, _ctx: &TeamsContext) -> Result<String, AppError> {
    Err(AppError::client(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "not_built",
        "Not available yet.",
    ))
}
