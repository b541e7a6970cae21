//! The browser side of linking a Jira account from Teams (PROTOCOLS.md §6.4).
//!
//! `link` in the bot's 1:1 chat hands out `/auth/teams/start?t=<one-time>`, bound to the Teams
//! user who asked (tenant, Entra object id, `29:` id) and to one Jira instance. Opening it runs
//! the same sign-in as a link from Jira (browser cookie, Entra code + PKCE + ID token, Jira
//! OAuth 2.0 + `/myself`), with two differences: the Microsoft user of the ID token must be the
//! Teams user the URL was made for, and nothing is linked at the end. The page shows a short
//! code instead, which that same Teams user must send back (typed into the chat or through
//! `signin/verifyState`, see `web::bot::finish_link`) within a few minutes; until then the tokens
//! wait encrypted, and they are purged with the sign-in when it expires. Opened in Teams'
//! sign-in pop-up, the code page hands the code to Teams itself (`/static/teams-signin.js`,
//! TeamsJS `authentication.notifySuccess`), and Teams sends it as `signin/verifyState`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use diesel::Connection;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use super::flow::failed;
use super::start_microsoft::begin;
use crate::clients::entra_signin::IdClaims;
use crate::clients::jira::{JiraTokens, JiraUser};
use crate::crypto::{Vault, random};
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::secret::{self, TEAMS_FLOW_JIRA_REFRESH_TOKEN, TEAMS_FLOW_JIRA_TOKEN};
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, SignInFlow};
use crate::db::models::teams_sign_in::{CODE_TTL_SECS, JiraLeg, TeamsSignIn};
use crate::db::models::user_mapping::UserMapping;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::admin::{Layout, html};
use crate::web::session::CsrfToken;

const CODE_PURPOSE: &str = "teams-sign-in-code";

/// The stored form of a verification code: an HMAC under a key derived from the master key,
/// bound to the sign-in, so a database dump does not give the 10⁶ codes away to a brute force.
pub fn code_mac(vault: &Vault, sign_in: Uuid, code: &str) -> Result<Vec<u8>, AppError> {
    vault
        .mac(CODE_PURPOSE, format!("{sign_in}:{code}").as_bytes())
        .map_err(|e| AppError::internal(anyhow::anyhow!("cannot derive the code key: {e}")))
}

/// A six-digit verification code.
pub fn new_code() -> String {
    random::from_alphabet(b"0123456789", 6)
}

/// Where an instance is, as users know it (`jira.example.com/jira`).
pub fn instance_label(instance: &JiraInstance) -> String {
    let url = instance.base_url.as_str();
    let url = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    url.trim_end_matches('/').to_owned()
}

#[derive(Deserialize)]
pub struct StartQuery {
    t: Option<String>,
}

fn again() -> &'static str {
    "Type link in your 1:1 chat with the bot in Teams to get a new one."
}

/// `GET /auth/teams/start?t=`: checks the one-time URL, then starts the usual sign-in.
pub async fn start(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(t) = q.t.as_deref().filter(|t| !t.is_empty() && t.len() <= 128) else {
        return failed(
            &csrf,
            StatusCode::BAD_REQUEST,
            format!("The sign-in link is incomplete. {}", again()),
        );
    };
    let hash = random::token_hash(t);
    let h = hash.clone();
    let found = db::run(&state.pool, move |conn| {
        Ok(TeamsSignIn::by_token(conn, &h)?)
    })
    .await?;
    let row = match found {
        None => {
            return failed(
                &csrf,
                StatusCode::BAD_REQUEST,
                format!("This sign-in link is unknown or has expired. {}", again()),
            );
        }
        Some(r) if r.stage != "issued" => {
            return failed(
                &csrf,
                StatusCode::CONFLICT,
                format!("This sign-in link was already used. {}", again()),
            );
        }
        Some(r) if r.expires_at <= Utc::now() => {
            return failed(
                &csrf,
                StatusCode::BAD_REQUEST,
                format!("This sign-in link has expired. {}", again()),
            );
        }
        Some(r) => r,
    };
    let (h, until) = (
        hash.clone(),
        Utc::now() + chrono::Duration::minutes(FLOW_TTL_MINS),
    );
    let claim =
        move |conn: &mut diesel::PgConnection| Ok(TeamsSignIn::open(conn, &h, until)?.is_some());
    match begin(&state, &csrf, row.jira_instance_id, None, hash, claim).await? {
        Some(mut res) => {
            keep_opener(&mut res);
            Ok(res)
        }
        None => failed(
            &csrf,
            StatusCode::CONFLICT,
            format!("This sign-in link was already used. {}", again()),
        ),
    }
}

/// The Microsoft leg of a Teams-started sign-in: the ID token must name the Teams user the URL
/// was made for. Otherwise the sign-in ends here (nothing stored) with the reason.
pub(super) async fn microsoft_user_matches(
    state: &AppState,
    flow: &SignInFlow,
    who: &IdClaims,
) -> Result<Result<(), (StatusCode, String)>, PageError> {
    let hash = flow.start_hash.clone();
    let row = db::run(&state.pool, move |conn| {
        Ok(TeamsSignIn::by_token(conn, &hash)?)
    })
    .await?;
    let Some(row) = row.filter(|r| r.stage == "started") else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            format!("This sign-in from Teams is no longer pending. {}", again()),
        )));
    };
    if row.tenant_id == who.tenant_id && row.aad_object_id == who.user_id {
        return Ok(Ok(()));
    }
    tracing::warn!(flow.id = %flow.id, teams_sign_in.id = %row.id, "Microsoft user of the browser differs from the Teams user of the link; nothing linked");
    let id = row.id;
    db::run(&state.pool, move |conn| Ok(TeamsSignIn::fail(conn, id)?)).await?;
    let shown = if who.username.is_empty() {
        &who.name
    } else {
        &who.username
    };
    Ok(Err((
        StatusCode::FORBIDDEN,
        format!(
            "You signed in to Microsoft as {shown}, but this link was made in Teams for someone else. Nothing was linked. Ask the bot for a link in your own Teams chat."
        ),
    )))
}

#[derive(Template)]
#[template(path = "auth/teams_code.html")]
struct CodePage {
    layout: Layout,
    code: String,
    minutes: i64,
    jira_user: String,
    instance: String,
    ms_user: String,
}

/// The end of the Jira leg of a Teams-started sign-in: the Jira result is kept (tokens sealed),
/// and the page shows the code the Teams user must send back.
pub(super) async fn await_code(
    state: &AppState,
    csrf: &CsrfToken,
    flow: &SignInFlow,
    instance: &JiraInstance,
    me: &JiraUser,
    tokens: &JiraTokens,
) -> Result<HttpResponse, PageError> {
    let hash = flow.start_hash.clone();
    let (instance_id, tenant, user) = (instance.id, flow.ms_tenant_id, flow.ms_user_id);
    let (row, linked) = db::run(&state.pool, move |conn| {
        let row = TeamsSignIn::by_token(conn, &hash)?;
        let linked = match user {
            Some(u) => UserMapping::by_ms_users(conn, instance_id, &[u])?,
            None => Vec::new(),
        };
        Ok((row, linked))
    })
    .await?;
    let row = match row {
        Some(r)
            if r.stage == "started"
                && Some(r.tenant_id) == tenant
                && Some(r.aad_object_id) == user =>
        {
            r
        }
        _ => {
            return end(
                state,
                csrf,
                flow.id,
                None,
                StatusCode::BAD_REQUEST,
                format!("This sign-in from Teams is no longer pending. {}", again()),
            )
            .await;
        }
    };
    let jira_name = if me.display_name.is_empty() {
        me.name.clone()
    } else {
        me.display_name.clone()
    };
    if let Some(other) = linked.iter().find(|m| m.jira_user_key != me.key) {
        return end(
            state,
            csrf,
            flow.id,
            Some(row.id),
            StatusCode::CONFLICT,
            format!(
                "Your Microsoft account is already linked to the Jira user {} of this instance. Type unlink in Teams first if you want to link {jira_name} instead. Nothing was changed.",
                other.jira_user_name.as_deref().unwrap_or(&other.jira_user_key)
            ),
        )
        .await;
    }
    let code = new_code();
    let code_hash = code_mac(&state.vault, row.id, &code).map_err(PageError)?;
    let sealed = (
        secret::seal(
            &state.vault,
            TEAMS_FLOW_JIRA_TOKEN,
            row.id,
            tokens.access_token.expose_secret(),
        ),
        tokens
            .refresh_token
            .as_ref()
            .map(|r| {
                secret::seal(
                    &state.vault,
                    TEAMS_FLOW_JIRA_REFRESH_TOKEN,
                    row.id,
                    r.expose_secret(),
                )
            })
            .transpose(),
    );
    let (Ok(token), Ok(refresh)) = sealed else {
        return Err(PageError(AppError::internal(anyhow::anyhow!(
            "could not keep the Jira tokens of the sign-in"
        ))));
    };
    let until = Utc::now() + chrono::Duration::seconds(CODE_TTL_SECS);
    let (id, flow_id, key, name, scopes) = (
        row.id,
        flow.id,
        me.key.clone(),
        jira_name.clone(),
        tokens.scope.clone(),
    );
    let jira_expires = Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64);
    let waiting = db::run(&state.pool, move |conn| {
        Ok(conn
            .transaction::<_, diesel::result::Error, _>(|conn| {
                let ok = TeamsSignIn::to_verifying(
                    conn,
                    id,
                    &JiraLeg {
                        user_key: &key,
                        user_name: &name,
                        token: &token,
                        refresh_token: refresh.as_deref(),
                        expires_at: jira_expires,
                        scopes: &scopes,
                        code_hash: &code_hash,
                        code_expires_at: until,
                    },
                )? && SignInFlow::to_verify(conn, flow_id, until)?;
                if ok {
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
    if !waiting {
        return end(
            state,
            csrf,
            flow.id,
            Some(row.id),
            StatusCode::CONFLICT,
            format!("This sign-in from Teams is no longer pending. {}", again()),
        )
        .await;
    }
    tracing::info!(flow.id = %flow.id, teams_sign_in.id = %row.id, "Teams-started sign-in waits for its code");
    let p = CodePage {
        layout: Layout::anonymous(csrf),
        code,
        minutes: CODE_TTL_SECS / 60,
        jira_user: jira_name,
        instance: instance_label(instance),
        ms_user: flow.ms_user_name.clone().unwrap_or_default(),
    };
    let mut res = html(p.render(), StatusCode::OK)?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(CODE_PAGE_CSP),
    );
    keep_opener(&mut res);
    Ok(res)
}

/// Ends a Teams-started sign-in without a link (pending tokens erased) and says why.
async fn end(
    state: &AppState,
    csrf: &CsrfToken,
    flow_id: Uuid,
    sign_in: Option<Uuid>,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, PageError> {
    db::run(&state.pool, move |conn| {
        SignInFlow::close(conn, flow_id, "failed")?;
        if let Some(id) = sign_in {
            TeamsSignIn::fail(conn, id)?;
        }
        Ok(())
    })
    .await?;
    failed(csrf, status, message)
}

/// Content Security Policy of the code page: the usual one (no inline script, no framing) plus
/// its own script and the Teams JavaScript library from Microsoft's CDN (pinned with an
/// integrity hash in the page).
pub const CODE_PAGE_CSP: &str = "default-src 'none'; script-src 'self' https://res.cdn.office.net; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Lets the pages of a Teams-started sign-in keep their opener: Teams' sign-in pop-up reaches
/// Teams through `window.opener`, which `Cross-Origin-Opener-Policy: same-origin` (the default
/// header) would cut on the first response from this site.
pub fn keep_opener(res: &mut HttpResponse) {
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("cross-origin-opener-policy"),
        actix_web::http::header::HeaderValue::from_static("unsafe-none"),
    );
}

/// `GET /static/teams-signin.js`: the code page's script, compiled in.
pub async fn static_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../templates/static/teams-signin.js"))
}
