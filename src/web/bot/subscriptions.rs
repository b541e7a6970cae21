//! Channel subscriptions and personal notification settings. STUB: being built.

use crate::error::AppError;
use crate::state::AppState;

use super::teams::TeamsContext;

/// `subscribe`.
pub async fn subscribe(state: &AppState, ctx: &TeamsContext, _rest: &str) -> Result<(), AppError> {
    ctx.reply_text(state, "subscribe", "Not available yet.")
        .await
}

/// `unsubscribe`.
pub async fn unsubscribe(
    state: &AppState,
    ctx: &TeamsContext,
    _rest: &str,
) -> Result<(), AppError> {
    ctx.reply_text(state, "unsubscribe", "Not available yet.")
        .await
}

/// `notifications`.
pub async fn notifications(
    state: &AppState,
    ctx: &TeamsContext,
    _rest: &str,
) -> Result<(), AppError> {
    ctx.reply_text(state, "notifications", "Not available yet.")
        .await
}
