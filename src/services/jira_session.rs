//! A signed-in Jira user's session on the appliance's pages and the Jira token it holds: read
//! through the audited secret store, renewed once when it is about to expire, and the session
//! ended when Jira refuses it (consent revoked in Jira, refresh refused).

use actix_web::http::StatusCode;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::clients::jira::{JiraClient, JiraUser as JiraIdentity};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_user_session::JiraUserSession;
use crate::db::models::secret::{JIRA_SESSION_REFRESH_TOKEN, JIRA_SESSION_TOKEN};
use crate::error::AppError;
use crate::services::connections;
use crate::services::secrets::{self, Audit};
use crate::state::AppState;

/// A token with less than this left is renewed before use.
const REFRESH_MARGIN_SECS: i64 = 120;

/// The signed-in Jira user of one instance (from the session cookie).
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub session_id: Uuid,
    pub instance: JiraInstance,
    pub user_key: String,
    pub user_name: String,
}

impl SessionUser {
    /// The audit actor of what this user does: the same as for the Jira app's API calls made for
    /// them (`<public id>:<user key>`), so one write path writes one kind of audit row.
    pub fn actor(&self) -> Actor {
        Actor::Api(format!("{}:{}", self.instance.public_id, self.user_key))
    }
}

/// The answer when Jira no longer accepts the session's token: the session has ended.
pub fn session_ended() -> AppError {
    AppError::client(
        StatusCode::UNAUTHORIZED,
        "jira_session_ended",
        "Jira no longer accepts your sign-in (it may have been revoked in Jira). Sign in again.",
    )
}

/// Ends a session (sign-out, or Jira refused its token).
pub async fn end(state: &AppState, session: Uuid) -> Result<(), AppError> {
    db::run(&state.pool, move |conn| {
        Ok(JiraUserSession::delete(conn, session)?)
    })
    .await?;
    Ok(())
}

/// Ends the session of `instance` a browser's cookie token names, if it still exists
/// (sign-out; a session that already expired is simply not there).
pub async fn end_by_token(state: &AppState, instance: Uuid, token: &str) -> Result<(), AppError> {
    let hash = crate::crypto::random::token_hash(token);
    db::run(&state.pool, move |conn| {
        Ok(JiraUserSession::delete_by_token(conn, instance, &hash)?)
    })
    .await?;
    Ok(())
}

/// The session user's Jira token and the instance's client, renewed when close to expiry. A
/// refused renewal ends the session ([`session_ended`]).
pub async fn jira_token(
    state: &AppState,
    user: &SessionUser,
    purpose: &str,
) -> Result<(SecretString, JiraClient), AppError> {
    let client = connections::jira(state, &user.instance).await?;
    let id = user.session_id;
    let label = user.user_key.as_str();
    let load = || async move {
        db::run(&state.pool, move |conn| {
            Ok(JiraUserSession::find(conn, id)?)
        })
        .await?
        .ok_or_else(session_ended)
    };
    let fresh = |row: &JiraUserSession| {
        row.token_expires_at > Utc::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS)
    };
    let row = load().await?;
    if fresh(&row) {
        let token = secrets::read(
            state,
            row.id,
            JIRA_SESSION_TOKEN,
            &row.access_token,
            (user.actor(), purpose, label),
            Audit::PerBurst,
        )
        .await?;
        return Ok((token, client));
    }
    // one renewal per session in this process (two tabs opened from Jira at once): the refresh
    // token is spent by its use, so the second request uses what the first stored
    let lock = state.refresh_lock(id);
    let _held = lock.lock().await;
    let row = load().await?;
    if fresh(&row) {
        let token = secrets::read(
            state,
            row.id,
            JIRA_SESSION_TOKEN,
            &row.access_token,
            (user.actor(), purpose, label),
            Audit::PerBurst,
        )
        .await?;
        return Ok((token, client));
    }
    let Some(sealed) = row.refresh_token.as_deref() else {
        end(state, id).await?;
        return Err(session_ended());
    };
    let refresh = secrets::read(
        state,
        row.id,
        JIRA_SESSION_REFRESH_TOKEN,
        sealed,
        (user.actor(), "renew the Jira session's token", label),
        Audit::EveryReadUncached,
    )
    .await?;
    let redirect = format!("{}/auth/jira/callback", state.internal_url);
    let fresh = match client.refresh(&refresh, &redirect).await {
        Ok(t) => t,
        Err(e) if e.needs_sign_in() => {
            tracing::info!(session.id = %id, "Jira refused to renew a session's token; session ended");
            end(state, id).await?;
            return Err(session_ended());
        }
        Err(e) => {
            return Err(AppError::client(
                StatusCode::BAD_GATEWAY,
                "jira_unavailable",
                format!("Jira could not renew your sign-in: {e}"),
            ));
        }
    };
    let (vault, seen) = (state.vault.clone(), row.token_expires_at);
    let (access, refresh) = (
        fresh.access_token.expose_secret().to_owned(),
        fresh
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_owned()),
    );
    let until = Utc::now() + chrono::Duration::seconds(fresh.expires_in as i64);
    db::run(&state.pool, move |conn| {
        Ok(JiraUserSession::store_refreshed(
            conn,
            &vault,
            id,
            seen,
            &access,
            refresh.as_deref(),
            until,
        )
        .map_err(AppError::internal))
    })
    .await??;
    Ok((fresh.access_token, client))
}

/// Asks Jira, as the session's user, who they are (`GET /rest/api/2/myself`): proves the
/// session's token still works (each read of it audited) and gives the name Jira shows now.
/// Jira refusing the token (consent revoked in Jira) ends the session ([`session_ended`]); so
/// does an answer naming another user. Jira unreachable is `jira_unavailable` (502).
pub async fn myself(state: &AppState, user: &SessionUser) -> Result<JiraIdentity, AppError> {
    let (token, client) = jira_token(state, user, "show the Jira user their account").await?;
    match client.myself(&token).await {
        Ok(me) if me.key == user.user_key => Ok(me),
        Ok(_) => {
            tracing::warn!(session.id = %user.session_id, "Jira names another user for a session's token; session ended");
            end(state, user.session_id).await?;
            Err(session_ended())
        }
        Err(e) if e.needs_sign_in() => {
            tracing::info!(session.id = %user.session_id, "Jira refused a session's token; session ended");
            end(state, user.session_id).await?;
            Err(session_ended())
        }
        Err(e) => Err(AppError::client(
            StatusCode::BAD_GATEWAY,
            "jira_unavailable",
            format!("Jira could not be asked just now: {e}"),
        )),
    }
}
