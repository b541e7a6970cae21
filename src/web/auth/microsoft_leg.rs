//! The Microsoft leg of a sign-in: storing the flow and redirecting to Entra (authorization
//! code + PKCE S256, `state` and `nonce`), then the callback that redeems the code, validates the
//! ID token, keeps the tokens encrypted in the flow and goes on to Jira.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;

use super::flow::{CallbackQuery, cookie_name, failed, sign_in_actor, take_flow};
use super::from_teams;
use crate::crypto::pkce::AuthRequest;
use crate::crypto::random;
use crate::db;
use crate::db::models::secret::{self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN};
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, MicrosoftLeg, NewSignInFlow, SignInFlow};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::connections;
use crate::web::session::CsrfToken;

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
    let cookie = Cookie::build(cookie_name(state), browser)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        // Lax: the browser must send it on the top-level redirect back from Microsoft and Jira
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::minutes(FLOW_TTL_MINS))
        .finish();
    Ok(Some(
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .cookie(cookie)
            .finish(),
    ))
}

/// `GET /auth/microsoft/callback`: redeems the code, validates the ID token, goes on to Jira.
pub async fn microsoft_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let flow = match take_flow(&state, &req, &q, "microsoft").await? {
        Ok(f) => f,
        Err((status, m)) => return failed(&csrf, status, m),
    };
    let ms = connections::microsoft(&state, &sign_in_actor())
        .await
        .map_err(PageError)?;
    let redirect = format!("{}/auth/microsoft/callback", state.internal_url);
    let tokens = match ms
        .signin
        .redeem_code(
            q.code.as_deref().unwrap_or_default(),
            &redirect,
            flow.pkce_verifier.as_deref().unwrap_or_default(),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(flow.id = %flow.id, error = %e, "Microsoft code redemption failed");
            return failed(
                &csrf,
                StatusCode::BAD_GATEWAY,
                format!("Microsoft did not accept the sign-in: {e}"),
            );
        }
    };
    let who = match ms
        .signin
        .validate_id_token(
            tokens.id_token.as_deref(),
            flow.nonce.as_deref().unwrap_or_default(),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(flow.id = %flow.id, error = %e, "ID token refused");
            return failed(
                &csrf,
                StatusCode::BAD_GATEWAY,
                format!("The Microsoft sign-in could not be verified: {e}"),
            );
        }
    };
    if flow.jira_user_key.is_none() {
        // started from Teams: the Microsoft user must be the Teams user the URL was made for
        if let Err((status, message)) =
            from_teams::microsoft_user_matches(&state, &flow, &who).await?
        {
            return failed(&csrf, status, message);
        }
    }
    let instance = connections::instance(&state, flow.jira_instance_id)
        .await
        .map_err(PageError)?;
    let jira = connections::jira(&state, &instance)
        .await
        .map_err(PageError)?;
    let next = AuthRequest::new();
    let (vault, id) = (state.vault.clone(), flow.id);
    let (next_state, next_verifier) = (random::token_hash(&next.state), next.verifier.clone());
    let name = if who.username.is_empty() {
        who.name.clone()
    } else {
        who.username.clone()
    };
    let stored = db::run(&state.pool, move |conn| {
        let token = secret::seal(
            &vault,
            FLOW_MS_TOKEN,
            id,
            tokens.access_token.expose_secret(),
        );
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|r| secret::seal(&vault, FLOW_MS_REFRESH_TOKEN, id, r.expose_secret()))
            .transpose();
        let (Ok(token), Ok(refresh)) = (token, refresh) else {
            return Ok(false);
        };
        Ok(SignInFlow::to_jira_leg(
            conn,
            id,
            &MicrosoftLeg {
                tenant_id: who.tenant_id,
                user_id: who.user_id,
                token: &token,
                refresh_token: refresh.as_deref(),
                expires_at: Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64),
                user_name: &name,
                next_state_hash: &next_state,
                next_verifier: &next_verifier,
            },
        )?)
    })
    .await?;
    if !stored {
        return Err(PageError(AppError::internal(anyhow::anyhow!(
            "could not keep the Microsoft tokens of the sign-in"
        ))));
    }
    let redirect = format!("{}/auth/jira/callback", state.internal_url);
    let to = jira.authorize_url(&redirect, &next.state, &next.challenge());
    let mut res = HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    if flow.jira_user_key.is_none() {
        from_teams::keep_opener(&mut res);
    }
    Ok(res)
}
