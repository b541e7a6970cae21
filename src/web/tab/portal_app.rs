//! The portal app a tab URL names (`/teams/portal/{portal_app_id}`), with its validated settings,
//! or the tab's 404: shared by the tab page and its session endpoint.

use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::db;
use crate::db::models::jsm_portal_app::JsmPortalApp;
use crate::domain::settings::PortalAppSettings;
use crate::error::AppError;
use crate::state::AppState;

pub fn not_found() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "portal_app_not_found",
        "This Jira Service Management portal does not exist (any more). Ask your Jira administrator.",
    )
}

/// The portal app of the path and its settings, or 404.
pub async fn find_portal(
    state: &AppState,
    raw: &str,
) -> Result<(JsmPortalApp, PortalAppSettings), AppError> {
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    let app = db::run(&state.pool, move |conn| Ok(JsmPortalApp::get(conn, id)?))
        .await?
        .ok_or_else(not_found)?;
    let settings = PortalAppSettings::parse(&app.settings).map_err(|why| {
        AppError::internal(anyhow::anyhow!(
            "stored portal app settings are invalid: {why}"
        ))
    })?;
    Ok((app, settings))
}
