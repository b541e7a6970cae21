//! The Microsoft leg of a sign-in: storing the flow and redirecting to Entra (authorization
//! code + PKCE S256, `state` and `nonce`), then the callback that redeems the code, validates the
//! ID token, keeps the tokens encrypted in the flow and goes on to Jira.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use secrecy::ExposeSecret;

use super::flow::{CallbackQuery, failed, sign_in_actor, take_flow};
use super::from_teams;
use crate::crypto::pkce::AuthRequest;
use crate::crypto::random;
use crate::db;
use crate::db::models::secret::{self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN};
use crate::db::models::sign_in_flow::{MicrosoftLeg, SignInFlow};
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::CsrfToken;

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
