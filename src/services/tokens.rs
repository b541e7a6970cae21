//! Per-user tokens for calls made as the user (Graph, Jira). A token close to expiry is
//! refreshed once: one refresher per token row in this process (a lock) and across daemons (a
//! database lease); the new access and refresh token are stored together. Consent and
//! `invalid_grant` refusals mark the link "needs sign-in again".

use std::time::Duration;

use actix_web::http::StatusCode;
use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use crate::clients::entra::EntraError;
use crate::clients::jira::JiraError;
use crate::db;
use crate::db::models::access_token::{self, TokenRow, TokenSet};
use crate::db::models::audit::Actor;
use crate::db::models::secret::{self, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::db::models::user_mapping::{SignIn, UserMapping};
use crate::error::AppError;
use crate::services::secrets::{self, Audit};
use crate::services::{connections, link_lapse};
use crate::state::AppState;

/// A token is refreshed when it has less than this left.
const REFRESH_MARGIN_SECS: i64 = 120;
/// How long a refresher may hold the lease.
const LEASE_SECS: i64 = 30;
/// How long a caller waits for another daemon's refresh.
const LEASE_WAIT: Duration = Duration::from_secs(15);

/// The link needs a new sign-in.
pub fn needs_sign_in(detail: &str) -> AppError {
    AppError::client(
        StatusCode::CONFLICT,
        "needs_sign_in",
        format!("The link to Microsoft or Jira must be renewed: sign in again ({detail})."),
    )
}

/// Why refreshing failed, classified.
pub enum RefreshError {
    /// The user must sign in again (the reason is kept on the link).
    SignIn(String),
    /// Anything else (configuration, network): the link stays as it is.
    Other(AppError),
}

impl From<EntraError> for RefreshError {
    fn from(e: EntraError) -> Self {
        if e.needs_sign_in() {
            RefreshError::SignIn(format!("Microsoft: {e}"))
        } else if e.is_configuration() {
            RefreshError::Other(AppError::client(
                StatusCode::BAD_GATEWAY,
                "microsoft_configuration",
                format!("Entra ID refused the appliance's app registration: {e}"),
            ))
        } else {
            RefreshError::Other(AppError::client(
                StatusCode::BAD_GATEWAY,
                "microsoft_unavailable",
                format!("Entra ID could not renew the token: {e}"),
            ))
        }
    }
}

impl From<JiraError> for RefreshError {
    fn from(e: JiraError) -> Self {
        if e.needs_sign_in() {
            RefreshError::SignIn(format!("Jira: {e}"))
        } else {
            RefreshError::Other(AppError::client(
                StatusCode::BAD_GATEWAY,
                "jira_unavailable",
                format!("Jira could not renew the token: {e}"),
            ))
        }
    }
}

/// New tokens from a refresh.
pub struct Refreshed {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: u64,
    pub scope: String,
}

async fn decrypt(
    state: &AppState,
    row: &TokenRow,
    col: secret::SecretColumn,
    actor: &Actor,
    purpose: &str,
    audit: Audit,
) -> Result<SecretString, AppError> {
    let ciphertext = if col == REFRESH_TOKEN {
        row.refresh_token.as_deref().unwrap_or_default()
    } else {
        &row.token
    };
    secrets::read(
        state,
        row.id,
        col,
        ciphertext,
        (actor.clone(), purpose, &row.kind),
        audit,
    )
    .await
}

fn fresh(row: &TokenRow) -> bool {
    row.expires_at
        .is_some_and(|e| e > Utc::now() + chrono::Duration::seconds(REFRESH_MARGIN_SECS))
}

async fn find(state: &AppState, kind: &'static str, mapping: Uuid) -> Result<TokenRow, AppError> {
    db::run(&state.pool, move |conn| {
        Ok(TokenRow::find(conn, kind, mapping)?)
    })
    .await?
    .ok_or_else(|| needs_sign_in("no token is stored for this user"))
}

/// The user's access token of `kind`, refreshed with `refresh` when it is about to expire.
/// `audit_every_read` skips the in-memory cache, so this use gets its own audit row (reads on
/// someone else's behalf).
pub async fn user_token<F, Fut>(
    state: &AppState,
    kind: &'static str,
    mapping: &UserMapping,
    actor: &Actor,
    purpose: &str,
    audit_every_read: bool,
    refresh: F,
) -> Result<SecretString, AppError>
where
    F: Fn(SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<Refreshed, RefreshError>>,
{
    if mapping.status == "needs_reauth" {
        return Err(needs_sign_in(
            mapping
                .status_detail
                .as_deref()
                .unwrap_or("sign-in expired"),
        ));
    }
    let access_audit = if audit_every_read {
        Audit::EveryRead
    } else {
        Audit::PerBurst
    };
    let started = std::time::Instant::now();
    loop {
        let row = find(state, kind, mapping.id).await?;
        if fresh(&row) {
            return decrypt(state, &row, ACCESS_TOKEN, actor, purpose, access_audit).await;
        }
        let lock = state.refresh_lock(row.id);
        let _held = lock.lock().await;
        // another task may have refreshed while this one waited for the lock
        let row = find(state, kind, mapping.id).await?;
        if fresh(&row) {
            return decrypt(state, &row, ACCESS_TOKEN, actor, purpose, access_audit).await;
        }
        let id = row.id;
        let leased = db::run(&state.pool, move |conn| {
            Ok(TokenRow::take_lease(conn, id, LEASE_SECS)?)
        })
        .await?;
        if !leased {
            if started.elapsed() > LEASE_WAIT {
                return Err(AppError::client(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "token_refresh_busy",
                    "Another appliance instance is renewing this user's token; try again.",
                ));
            }
            drop(_held);
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        return refresh_row(state, row, mapping, actor, &refresh).await;
    }
}

async fn refresh_row<F, Fut>(
    state: &AppState,
    row: TokenRow,
    mapping: &UserMapping,
    actor: &Actor,
    refresh: &F,
) -> Result<SecretString, AppError>
where
    F: Fn(SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<Refreshed, RefreshError>>,
{
    let id = row.id;
    let release = || async move {
        let _ = db::run(&state.pool, move |conn| {
            Ok(TokenRow::release_lease(conn, id)?)
        })
        .await;
    };
    if row.refresh_token.is_none() {
        release().await;
        return Err(mark(state, mapping.id, &row.kind, "no refresh token").await);
    }
    let rt = match decrypt(
        state,
        &row,
        REFRESH_TOKEN,
        actor,
        "renew the user's token",
        Audit::EveryReadUncached,
    )
    .await
    {
        Ok(rt) => rt,
        Err(e) => {
            release().await;
            return Err(e);
        }
    };
    let refreshed = refresh(rt).await;
    state.metrics.token_refresh(
        &row.kind,
        match &refreshed {
            Ok(_) => "ok",
            Err(RefreshError::SignIn(_)) => "sign_in_required",
            Err(RefreshError::Other(_)) => "error",
        },
    );
    match refreshed {
        Ok(t) => {
            let (vault, kind, mapping_id) = (state.vault.clone(), row.kind.clone(), mapping.id);
            let instance = mapping.jira_instance_id;
            let tenant = (kind == access_token::MICROSOFT_USER).then_some(mapping.ms_tenant_id);
            let at = t.access_token.clone();
            let stored = db::run(&state.pool, move |conn| {
                use secrecy::ExposeSecret;
                let set = TokenSet {
                    access_token: at.expose_secret(),
                    refresh_token: t.refresh_token.as_ref().map(|r| r.expose_secret()),
                    expires_at: Utc::now() + chrono::Duration::seconds(t.expires_in as i64),
                    scopes: &t.scope,
                };
                Ok(TokenRow::store(
                    conn,
                    &vault,
                    &kind,
                    mapping_id,
                    Some(instance),
                    tenant,
                    &set,
                ))
            })
            .await;
            match stored {
                Ok(Ok(_)) => {
                    tracing::info!(token.kind = %row.kind, mapping.id = %mapping.id, "user token renewed");
                    Ok(t.access_token)
                }
                Ok(Err(e)) => {
                    release().await;
                    Err(AppError::internal(e))
                }
                Err(e) => {
                    release().await;
                    Err(e.into())
                }
            }
        }
        Err(RefreshError::SignIn(why)) => {
            release().await;
            Err(mark(state, mapping.id, &row.kind, &why).await)
        }
        Err(RefreshError::Other(e)) => {
            release().await;
            Err(e)
        }
    }
}

/// Marks the link "needs sign-in again" for the sign-in of token kind `kind` (the first mark of
/// a lapse tells the user, `services::link_lapse`); the error to return.
async fn mark(state: &AppState, mapping: Uuid, kind: &str, why: &str) -> AppError {
    let sign_in = if kind == access_token::MICROSOFT_USER {
        SignIn::Microsoft
    } else {
        SignIn::Jira
    };
    if let Err(e) = link_lapse::mark(state, mapping, sign_in, why).await {
        return e;
    }
    needs_sign_in(why)
}

/// The user's Microsoft token (Graph).
pub async fn microsoft_token(
    state: &AppState,
    mapping: &UserMapping,
    actor: &Actor,
    purpose: &str,
    audit_every_read: bool,
) -> Result<SecretString, AppError> {
    let conn = connections::microsoft(state, actor).await?;
    user_token(
        state,
        access_token::MICROSOFT_USER,
        mapping,
        actor,
        purpose,
        audit_every_read,
        |rt| {
            let conn = conn.clone();
            async move {
                let t = conn.signin.refresh(&rt).await?;
                Ok(Refreshed {
                    access_token: t.access_token,
                    refresh_token: t.refresh_token,
                    expires_in: t.expires_in,
                    scope: t.scope,
                })
            }
        },
    )
    .await
}

/// The user's Jira token (REST as the user).
pub async fn jira_token(
    state: &AppState,
    instance: &crate::db::models::jira_instance::JiraInstance,
    mapping: &UserMapping,
    actor: &Actor,
    purpose: &str,
) -> Result<(SecretString, crate::clients::jira::JiraClient), AppError> {
    let client = connections::jira(state, instance).await?;
    let redirect = format!("{}/auth/jira/callback", state.internal_url);
    let c = client.clone();
    let token = user_token(
        state,
        access_token::JIRA_USER,
        mapping,
        actor,
        purpose,
        false,
        |rt| {
            let (c, redirect) = (c.clone(), redirect.clone());
            async move {
                let t = c.refresh(&rt, &redirect).await?;
                Ok(Refreshed {
                    access_token: t.access_token,
                    refresh_token: t.refresh_token,
                    expires_in: t.expires_in,
                    scope: t.scope,
                })
            }
        },
    )
    .await?;
    Ok((token, client))
}
