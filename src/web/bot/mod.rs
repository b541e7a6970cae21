//! `/bot/messages`, the Bot Framework endpoint on the public listener.
//!
//! Activity JWT validation (PROTOCOLS.md §3.1) is not built yet, so nothing is accepted: every
//! activity is refused before its body is read. Microsoft's Connector retries later.

use actix_web::http::StatusCode;

use crate::error::AppError;

/// Refuses every activity until Bot Framework authentication is configured.
pub async fn messages() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "bot_not_configured",
        "The bot endpoint does not accept activities yet.",
    ))
}
