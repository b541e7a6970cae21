//! The Jira leg of a sign-in: the callback that redeems the Jira code (OAuth 2.0 + PKCE), proves
//! with `GET /rest/api/2/myself` that the Jira user is the one the link was made for, and stores
//! the link and both users' tokens in one transaction.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;

use super::flow::{CallbackQuery, failed, page, return_path, sign_in_actor, take_flow};
use super::{from_teams, jira_session};
use crate::db;
use crate::db::models::access_token::{self, TokenRow, TokenSet};
use crate::db::models::jira_instance_setup::JiraInstanceSetup;
use crate::db::models::secret::{self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN, ReadContext};
use crate::db::models::sign_in_flow::SignInFlow;
use crate::db::models::user_mapping::{LinkError, NewLink, UserMapping};
use crate::error::PageError;
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::CsrfToken;

/// `GET /auth/jira/callback`: redeems the Jira code, proves the Jira user, stores the link.
pub async fn jira_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let flow = match take_flow(&state, &req, &q, "jira").await? {
        Ok(f) => f,
        Err((status, m)) => return failed(&csrf, status, m),
    };
    let instance = connections::instance(&state, flow.jira_instance_id)
        .await
        .map_err(PageError)?;
    let jira = connections::jira(&state, &instance)
        .await
        .map_err(PageError)?;
    let redirect = format!("{}/auth/jira/callback", state.internal_url);
    let tokens = match jira
        .redeem_code(
            q.code.as_deref().unwrap_or_default(),
            &redirect,
            flow.pkce_verifier.as_deref().unwrap_or_default(),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(flow.id = %flow.id, error = %e, "Jira code redemption failed");
            return failed(
                &csrf,
                StatusCode::BAD_GATEWAY,
                format!("Jira did not accept the sign-in: {e}"),
            );
        }
    };
    let me = match jira.myself(&tokens.access_token).await {
        Ok(u) => u,
        Err(e) => {
            return failed(
                &csrf,
                StatusCode::BAD_GATEWAY,
                format!("Jira did not say who signed in: {e}"),
            );
        }
    };
    {
        // a redeemed code proves the OAuth link works (the admin overview shows it as tested);
        // not worth failing the sign-in over
        let id = instance.id;
        if let Err(e) = db::run(&state.pool, move |conn| {
            Ok(JiraInstanceSetup::mark_oauth_tested(conn, id)?)
        })
        .await
        {
            tracing::warn!(instance.public_id = %instance.public_id, error = %e, "the OAuth link was not marked as tested");
        }
    }
    if let Some(next) = return_path(&state, &flow).await? {
        return jira_session::complete(&state, &csrf, &flow, next, &instance, &me, tokens).await;
    }
    let Some(expected) = flow.jira_user_key.clone() else {
        // started from Teams: the link waits for the code the Teams user sends back
        return from_teams::await_code(&state, &csrf, &flow, &instance, &me, &tokens).await;
    };
    if me.key != expected {
        tracing::warn!(flow.id = %flow.id, "Jira user of the browser differs from the link's user; nothing linked");
        return failed(
            &csrf,
            StatusCode::FORBIDDEN,
            format!(
                "You signed in to Jira as {}, but this sign-in link was made for another Jira user. Nothing was linked.",
                if me.display_name.is_empty() {
                    &me.name
                } else {
                    &me.display_name
                }
            ),
        );
    }
    let (vault, f) = (state.vault.clone(), flow.clone());
    let jira_name = if me.display_name.is_empty() {
        me.name.clone()
    } else {
        me.display_name.clone()
    };
    let result = db::run(&state.pool, move |conn| {
        let actor = sign_in_actor();
        let ctx = ReadContext {
            actor: &actor,
            purpose: "complete account linking",
            label: &expected,
        };
        let ms_token = secret::read(conn, &vault, FLOW_MS_TOKEN, f.id, &ctx);
        let ms_refresh = f
            .ms_refresh_token
            .is_some()
            .then(|| secret::read(conn, &vault, FLOW_MS_REFRESH_TOKEN, f.id, &ctx))
            .transpose();
        let (Ok(ms_token), Ok(ms_refresh), Some(tenant), Some(user)) =
            (ms_token, ms_refresh, f.ms_tenant_id, f.ms_user_id)
        else {
            return Ok(Err(
                "the Microsoft tokens of this sign-in are gone".to_owned()
            ));
        };
        let ms_refresh_plain = ms_refresh.as_ref().map(|r| r.expose_secret().to_owned());
        let linked = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let stored = store_link(
                conn,
                &vault,
                &NewLink {
                    instance: f.jira_instance_id,
                    jira_user_key: &expected,
                    jira_user_name: &jira_name,
                    ms_tenant_id: tenant,
                    ms_user_id: user,
                    ms_user_name: f.ms_user_name.as_deref().unwrap_or_default(),
                },
                &TokenSet {
                    access_token: ms_token.expose_secret(),
                    refresh_token: ms_refresh_plain.as_deref(),
                    expires_at: f.ms_expires_at.unwrap_or_else(Utc::now),
                    scopes: "",
                },
                &TokenSet {
                    access_token: tokens.access_token.expose_secret(),
                    refresh_token: tokens.refresh_token.as_ref().map(|r| r.expose_secret()),
                    expires_at: Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64),
                    scopes: &tokens.scope,
                },
            )?;
            match stored {
                Ok(mapping) => {
                    SignInFlow::close(conn, f.id, "done")?;
                    Ok(Ok(mapping))
                }
                Err(e) => Ok(Err(e.to_string())),
            }
        })?;
        Ok(linked)
    })
    .await?;
    match result {
        Ok(m) => {
            tracing::info!(instance.public_id = %instance.public_id, mapping.id = %m.id, "Jira user linked to Microsoft");
            page(
                &csrf,
                StatusCode::OK,
                "Accounts linked",
                "Your Jira and Microsoft accounts are linked.",
                vec![
                    format!("Jira: {}", m.jira_user_name.unwrap_or_default()),
                    format!("Microsoft: {}", m.ms_user_name.unwrap_or_default()),
                ],
            )
        }
        Err(message) => {
            let id = flow.id;
            let _ = db::run(&state.pool, move |conn| {
                Ok(SignInFlow::close(conn, id, "failed")?)
            })
            .await;
            failed(&csrf, StatusCode::CONFLICT, message)
        }
    }
}

/// Stores a proven link and both users' tokens, in the caller's transaction: the link (or a
/// refusal such as [`LinkError::MicrosoftAccountTaken`], with nothing written), then the
/// Microsoft and the Jira token pairs.
pub(crate) fn store_link(
    conn: &mut diesel::PgConnection,
    vault: &crate::crypto::Vault,
    link: &NewLink<'_>,
    microsoft: &TokenSet<'_>,
    jira: &TokenSet<'_>,
) -> diesel::QueryResult<Result<UserMapping, LinkError>> {
    let mapping = match UserMapping::link(conn, link) {
        Ok(m) => m,
        Err(LinkError::Db(e)) => return Err(e),
        Err(e) => return Ok(Err(e)),
    };
    // remote links that waited for this user's Jira sign-in are written now
    crate::services::issue_chats::requeue_after_sign_in(conn, link.instance, link.jira_user_key)?;
    let store = |conn: &mut diesel::PgConnection, kind, tenant, set: &TokenSet<'_>| {
        TokenRow::store(
            conn,
            vault,
            kind,
            mapping.id,
            Some(link.instance),
            tenant,
            set,
        )
        .map_err(|e| match e {
            access_token::TokenWriteError::Db(e) => e,
            access_token::TokenWriteError::Vault(_) => diesel::result::Error::RollbackTransaction,
        })
    };
    store(
        conn,
        access_token::MICROSOFT_USER,
        Some(link.ms_tenant_id),
        microsoft,
    )?;
    store(conn, access_token::JIRA_USER, None, jira)?;
    Ok(Ok(mapping))
}
