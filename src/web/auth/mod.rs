//! `/auth/*`: linking a Jira user to a Microsoft user in the browser.
//!
//! `GET /api/v1/me` hands the Jira app a signed, ten-minute, single-use link for the calling
//! Jira user. Opening it binds the sign-in to this browser (a cookie) and starts the Microsoft
//! leg (authorization code + PKCE S256, `state` and `nonce`); the callback validates the ID
//! token and keeps the tokens encrypted in the flow. The Jira leg (OAuth 2.0 + PKCE) follows, and
//! `GET /rest/api/2/myself` must name the Jira user the link was made for: a forwarded link
//! cannot tie someone else's account. Only then are the link and both users' tokens stored, in
//! one transaction.

pub mod from_teams;
pub mod link;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::crypto::pkce::AuthRequest;
use crate::crypto::random;
use crate::db;
use crate::db::models::access_token::{self, TokenRow, TokenSet};
use crate::db::models::audit::Actor;
use crate::db::models::secret::{self, FLOW_MS_REFRESH_TOKEN, FLOW_MS_TOKEN, ReadContext};
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, MicrosoftLeg, NewSignInFlow, SignInFlow};
use crate::db::models::user_mapping::{LinkError, NewLink, UserMapping};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::admin::{Layout, html};
use crate::web::connections;
use crate::web::session::CsrfToken;

/// Routes of the sign-in flow.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/start", web::get().to(start))
        .route("/auth/teams/start", web::get().to(from_teams::start))
        .route(
            "/auth/microsoft/callback",
            web::get().to(microsoft_callback),
        )
        .route("/auth/jira/callback", web::get().to(jira_callback))
        .route(
            "/static/teams-signin.js",
            web::get().to(from_teams::static_js),
        );
}

#[derive(Template)]
#[template(path = "auth/result.html")]
struct ResultPage {
    layout: Layout,
    title: &'static str,
    ok: bool,
    message: String,
    details: Vec<String>,
}

fn page(
    csrf: &CsrfToken,
    status: StatusCode,
    title: &'static str,
    message: impl Into<String>,
    details: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let p = ResultPage {
        layout: Layout::anonymous(csrf),
        title,
        ok: status.is_success(),
        message: message.into(),
        details,
    };
    html(p.render(), status)
}

fn failed(
    csrf: &CsrfToken,
    status: StatusCode,
    message: impl Into<String>,
) -> Result<HttpResponse, PageError> {
    page(csrf, status, "Sign-in did not complete", message, vec![])
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        "__Host-jtb_signin"
    } else {
        "jtb_signin"
    }
}

fn browser_matches(req: &HttpRequest, state: &AppState, flow: &SignInFlow) -> bool {
    req.cookie(cookie_name(state)).is_some_and(|c| {
        random::constant_time_eq(&random::token_hash(c.value()), &flow.browser_hash)
    })
}

fn sign_in_actor() -> Actor {
    Actor::System("account linking".into())
}

#[derive(Deserialize)]
pub struct StartQuery {
    t: Option<String>,
}

/// `GET /auth/start?t=`: checks the link, binds the browser, redirects to Microsoft.
pub async fn start(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(t) = q.t.as_deref() else {
        return failed(
            &csrf,
            StatusCode::BAD_REQUEST,
            "The sign-in link is incomplete. Start again from Jira.",
        );
    };
    let claims = match link::verify(&state.vault, t, Utc::now().timestamp()) {
        Ok(c) => c,
        Err(e) => return failed(&csrf, StatusCode::BAD_REQUEST, e.to_string()),
    };
    let start_hash = random::token_hash(t);
    match begin(&state, &csrf, claims.i, Some(claims.u), start_hash, |_| {
        Ok(true)
    })
    .await?
    {
        Some(res) => Ok(res),
        None => failed(
            &csrf,
            StatusCode::CONFLICT,
            "This sign-in link was already used. Start again from Jira to get a new one.",
        ),
    }
}

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

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Only a provider's error code (letters and `_`) is shown; descriptions are not echoed.
fn provider_error(e: &str) -> String {
    e.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

async fn take_flow(
    state: &AppState,
    req: &HttpRequest,
    q: &CallbackQuery,
    stage: &'static str,
) -> Result<Result<SignInFlow, (StatusCode, String)>, PageError> {
    let Some(s) = q.state.as_deref() else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "The answer carries no state. Start again from Jira.".into(),
        )));
    };
    let hash = random::token_hash(s);
    let flow = db::run(&state.pool, move |conn| {
        Ok(SignInFlow::take(conn, &hash, stage)?)
    })
    .await?;
    let Some(flow) = flow else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "This sign-in answer is unknown, expired or was already used. Start again from Jira."
                .into(),
        )));
    };
    if !browser_matches(req, state, &flow) {
        tracing::warn!(flow.id = %flow.id, "sign-in answer arrived in another browser; flow stopped");
        return Ok(Err((StatusCode::FORBIDDEN, "This sign-in was started in another browser. Open the link from Jira in the browser you sign in with.".into())));
    }
    if let Some(e) = q.error.as_deref() {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            format!(
                "The sign-in was refused or cancelled ({}).",
                provider_error(e)
            ),
        )));
    }
    if q.code.as_deref().is_none_or(str::is_empty) {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            "The answer carries no authorization code.".into(),
        )));
    }
    Ok(Ok(flow))
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
