//! The start of the Microsoft leg, shared by both ways into a link (a start link from Jira,
//! `from_jira`, and a one-time URL from Teams, `from_teams`): the flow is stored, the browser
//! bound with a cookie, and the browser sent to Microsoft. The callback is `microsoft_leg`.

use super::flow::{browser_cookie, failed, sign_in_actor};
use crate::crypto::pkce::AuthRequest;
use crate::crypto::random;
use crate::db;
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, NewSignInFlow, SignInFlow};
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::CsrfToken;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::Utc;
use diesel::Connection;

/// Starts the Microsoft leg for a checked start link: stores the flow (which spends the link,
/// `start_hash`), binds the browser with a cookie and redirects to Microsoft. `claim` runs in
/// the same transaction once the flow is stored (a Teams URL is opened there). `None` when the
/// link was used before (or `claim` said no): nothing is stored then.
pub(crate) async fn begin(
    state: &AppState,
    csrf: &CsrfToken,
    instance_id: uuid::Uuid,
    jira_user_key: Option<String>,
    start_hash: Vec<u8>,
    claim: impl FnOnce(&mut diesel::PgConnection) -> diesel::QueryResult<bool> + Send + 'static,
) -> Result<Option<HttpResponse>, PageError> {
    let instance = connections::instance(state, instance_id)
        .await
        .map_err(PageError)?;
    if !instance.enabled {
        return failed(
            csrf,
            StatusCode::FORBIDDEN,
            "This Jira instance is disabled in the appliance.",
        )
        .map(Some);
    }
    if instance.oauth_client_id.is_none() {
        return failed(
            csrf,
            StatusCode::SERVICE_UNAVAILABLE,
            "This Jira instance has no OAuth 2.0 link in the appliance yet. Ask your administrator to set it up under Admin › Jira instances.",
        )
        .map(Some);
    }
    let ms = match connections::microsoft(state, &sign_in_actor()).await {
        Ok(ms) => ms,
        Err(AppError::Client {
            message, status, ..
        }) => return failed(csrf, status, message).map(Some),
        Err(e) => return Err(PageError(e)),
    };
    let auth = AuthRequest::new();
    let browser = random::token(32);
    let (browser_hash, state_hash) = (
        random::token_hash(&browser),
        random::token_hash(&auth.state),
    );
    let (verifier, nonce, instance_id) = (auth.verifier.clone(), auth.nonce.clone(), instance.id);
    let fresh = db::run(&state.pool, move |conn| {
        // finished and abandoned flows go once they expire (indexed; usually nothing to do)
        SignInFlow::purge_expired(conn)?;
        crate::db::models::teams_sign_in::TeamsSignIn::purge_expired(conn)?;
        Ok(conn
            .transaction::<_, diesel::result::Error, _>(|conn| {
                let inserted = NewSignInFlow {
                    id: uuid::Uuid::new_v4(),
                    jira_instance_id: instance_id,
                    jira_user_key: jira_user_key.as_deref(),
                    start_hash: &start_hash,
                    browser_hash: &browser_hash,
                    state_hash: &state_hash,
                    stage: "microsoft",
                    pkce_verifier: &verifier,
                    nonce: &nonce,
                    expires_at: Utc::now() + chrono::Duration::minutes(FLOW_TTL_MINS),
                }
                .insert(conn)?;
                if inserted && claim(conn)? {
                    Ok(true)
                } else {
                    Err(diesel::result::Error::RollbackTransaction)
                }
            })
            .or_else(|e| match e {
                diesel::result::Error::RollbackTransaction => Ok(false),
                e => Err(e),
            })?)
    })
    .await?;
    if !fresh {
        return Ok(None);
    }
    let redirect = format!("{}/auth/microsoft/callback", state.internal_url);
    let to = ms
        .signin
        .authorize_url(&redirect, &auth.state, &auth.challenge(), &auth.nonce);
    let cookie = browser_cookie(state, browser);
    Ok(Some(
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .cookie(cookie)
            .finish(),
    ))
}
