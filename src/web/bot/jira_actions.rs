//! Working with Jira from Teams as the linked Jira user. STUB: being built.

use actix_web::HttpResponse;

use crate::clients::microsoft::MicrosoftConn;
use crate::domain::bot_activity::Activity;
use crate::error::AppError;
use crate::state::AppState;

use super::teams::TeamsContext;

fn not_yet() -> HttpResponse {
    HttpResponse::Ok().json(
        serde_json::json!({"composeExtension": {"type": "message", "text": "Not available yet."}}),
    )
}

/// An `Action.Submit` of one of the bot's cards.
pub async fn card_submit(
    _state: &AppState,
    _ms: &MicrosoftConn,
    _activity: &Activity,
    _ctx: &TeamsContext,
) -> Result<(), AppError> {
    Ok(())
}

/// `create`.
pub async fn create_command(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    _rest: &str,
) -> Result<(), AppError> {
    ctx.reply_text(state, "create", "Not available yet.").await
}

/// `find`.
pub async fn find_command(
    state: &AppState,
    ctx: &TeamsContext,
    _rest: &str,
) -> Result<(), AppError> {
    ctx.reply_text(state, "find", "Not available yet.").await
}

/// `composeExtension/query`.
pub async fn search(
    _state: &AppState,
    _ctx: &TeamsContext,
    _value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    Ok(not_yet())
}

/// `composeExtension/queryLink`.
pub async fn unfurl(
    _state: &AppState,
    _ctx: &TeamsContext,
    _value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    Ok(not_yet())
}

/// `composeExtension/fetchTask`, `task/fetch`.
pub async fn fetch_task(
    _state: &AppState,
    _ms: &MicrosoftConn,
    _ctx: &TeamsContext,
    _value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    Ok(not_yet())
}

/// `composeExtension/submitAction`, `task/submit`.
pub async fn submit_action(
    _state: &AppState,
    _ms: &MicrosoftConn,
    _ctx: &TeamsContext,
    _value: &serde_json::Value,
) -> Result<HttpResponse, AppError> {
    Ok(not_yet())
}
