//! The service desks of an instance as a Jira user signed in on the appliance sees them, for
//! forms that pick desks (the admin's JSM portal apps): the browser's Jira user session of that
//! instance, if it is live, and its token (read through the audited secret store, renewed when
//! due) to list `GET /rest/servicedeskapi/servicedesk`. Jira refusing the token ends the session.

use actix_web::http::StatusCode;

use crate::clients::jira::{JsmError, ServiceDesk};
use crate::crypto::random;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_user_session::JiraUserSession;
use crate::error::AppError;
use crate::services::jira_session::{self, SessionUser};
use crate::state::AppState;

/// The live Jira user session of `instance` that a browser's cookie `token` names, if any.
pub async fn session_user(
    state: &AppState,
    instance: &JiraInstance,
    token: &str,
) -> Result<Option<SessionUser>, AppError> {
    let hash = random::token_hash(token);
    let idle = chrono::Duration::minutes(state.settings.jira.user_session_idle_mins);
    let id = instance.id;
    let session = db::run(&state.pool, move |conn| {
        Ok(JiraUserSession::find_live(conn, id, &hash, idle)?)
    })
    .await?;
    Ok(session.map(|s| SessionUser {
        session_id: s.id,
        instance: instance.clone(),
        user_key: s.jira_user_key,
        user_name: s.jira_user_name,
    }))
}

/// Every service desk `user` may see, sorted by name. Jira refusing the token ends the session
/// (`jira_session_ended`); anything else Jira answers is `jira_unavailable` (502) with the
/// reason.
pub async fn desks_of(state: &AppState, user: &SessionUser) -> Result<Vec<ServiceDesk>, AppError> {
    let (token, client) =
        jira_session::jira_token(state, user, "list the service desks for a portal app").await?;
    match client.service_desks(&token).await {
        Ok(mut desks) => {
            desks.sort_by(|a, b| a.project_name.cmp(&b.project_name).then(a.id.cmp(&b.id)));
            Ok(desks)
        }
        Err(e) if e.needs_sign_in() => {
            tracing::info!(session.id = %user.session_id, "Jira refused a session's token; session ended");
            jira_session::end(state, user.session_id).await?;
            Err(jira_session::session_ended())
        }
        Err(JsmError::NotFound) => Err(AppError::client(
            StatusCode::BAD_GATEWAY,
            "jira_unavailable",
            "Jira has no Service Management here (no /rest/servicedeskapi).",
        )),
        Err(e) => Err(AppError::client(
            StatusCode::BAD_GATEWAY,
            "jira_unavailable",
            format!("Jira did not list the service desks: {e}."),
        )),
    }
}
