//! Sign in with Jira for the appliance's own pages (`shared/design/JIRA-SURFACE.md`):
//! `GET /auth/jira/signin?i=<public id>&next=<path under /jira/>` starts authorization code +
//! PKCE on the instance's incoming link, with the same redirect URI as account linking
//! (`/auth/jira/callback`, which tells the flows apart by the stored flow's purpose). The
//! callback (`jira_leg`) redeems the code and asks `/rest/api/2/myself`; [`complete`] then opens
//! the Jira user session and returns to `next`. `next` must be a page of this instance under
//! `/jira/`, or one of the admin's portal-app forms ([`admin_return`]): anything else is
//! refused, so the sign-in is no open redirect.

use actix_web::HttpResponse;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::StatusCode;
use actix_web::web;
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::flow::{browser_cookie, failed};
use crate::clients::jira::{JiraTokens, JiraUser as JiraIdentity};
use crate::crypto::pkce::AuthRequest;
use crate::crypto::random;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_user_session::{JiraUserSession, NewJiraUserSession};
use crate::db::models::sign_in_flow::{FLOW_TTL_MINS, NewSignInFlow, SignInFlow};
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::jira::session::{path_instance, session_cookie};
use crate::web::session::CsrfToken;

/// Query of `/auth/jira/signin`.
#[derive(Deserialize)]
pub struct SignInQuery {
    i: Option<String>,
    next: Option<String>,
}

/// The admin pages a sign-in with Jira may also return to: the JSM portal-app forms, which
/// offer the instance's service desks as the Jira user signed in in that browser lists them.
/// Matched whole (a fixed path and at most one hyphenated UUID), so they open no redirect, and
/// the page still needs the admin's own session: `/admin/portal-apps/new`,
/// `/admin/portal-apps/new?instance=<uuid>` and `/admin/portal-apps/<uuid>/edit`.
pub fn admin_return(next: &str) -> bool {
    let uuid = |s: &str| {
        s.len() == 36
            && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
            && uuid::Uuid::parse_str(s).is_ok()
    };
    if next == "/admin/portal-apps/new" {
        return true;
    }
    if let Some(id) = next.strip_prefix("/admin/portal-apps/new?instance=") {
        return uuid(id);
    }
    next.strip_prefix("/admin/portal-apps/")
        .and_then(|rest| rest.strip_suffix("/edit"))
        .is_some_and(uuid)
}

/// `next` when it is a page of instance `public_id` under `/jira/`: a plain absolute path with
/// no scheme, host, backslash, `..` segment or control character. `None` otherwise.
pub fn safe_next(public_id: &str, next: &str) -> Option<String> {
    if admin_return(next) {
        return Some(next.to_owned());
    }
    let prefix = format!("/jira/{public_id}/");
    let ok = next.starts_with(&prefix)
        && next.len() <= 1024
        && !next.contains("//")
        && !next.contains('\\')
        && !next
            .split(['/', '?', '#'])
            .any(|seg| seg == ".." || seg == ".")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        // browsers decode `%2e%2e` as `..`: no escapes in the path (ids, keys and UUIDs need none)
        && !next.split(['?', '#']).next().unwrap_or_default().contains('%');
    ok.then(|| next.to_owned())
}

/// `GET /auth/jira/signin`: checks the instance and `next`, stores the flow, binds the browser
/// and redirects to Jira's consent page.
pub async fn signin(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    q: web::Query<SignInQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(i) = q.i.as_deref().filter(|s| !s.is_empty()) else {
        return failed(
            &csrf,
            StatusCode::BAD_REQUEST,
            "This sign-in link names no Jira instance. Open the link from your Jira issue again.",
        );
    };
    let instance = match path_instance(&state, i).await {
        Ok(i) => i,
        Err(PageError(AppError::Client {
            status, message, ..
        })) => return failed(&csrf, status, message),
        Err(e) => return Err(e),
    };
    let next = match q.next.as_deref() {
        None | Some("") => format!("/jira/{}/me", instance.public_id),
        Some(n) => match safe_next(&instance.public_id, n) {
            Some(n) => n,
            None => {
                tracing::warn!(instance.public_id = %instance.public_id, "sign-in with a return address outside /jira/ refused");
                return failed(
                    &csrf,
                    StatusCode::BAD_REQUEST,
                    "This sign-in link would send you to a page outside the appliance's Jira pages, so it was refused. Open the link from your Jira issue again.",
                );
            }
        },
    };
    let jira = match connections::jira(&state, &instance).await {
        Ok(j) => j,
        Err(AppError::Client {
            code: "jira_oauth_not_configured",
            ..
        }) => {
            return failed(
                &csrf,
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in with Jira is not set up for this Jira instance yet: the appliance has no OAuth 2.0 incoming link for it. Ask your Jira administrator to create one (permission Write, redirect URL ending in /auth/jira/callback) and enter it under Admin › Jira instances.",
            );
        }
        Err(e) => return Err(PageError(e)),
    };
    let auth = AuthRequest::new();
    let browser = random::token(32);
    let (browser_hash, state_hash, start_hash) = (
        random::token_hash(&browser),
        random::token_hash(&auth.state),
        random::token_hash(&random::token(32)),
    );
    let (verifier, instance_id) = (auth.verifier.clone(), instance.id);
    let flow_id = uuid::Uuid::new_v4();
    db::run(&state.pool, move |conn| {
        use diesel::Connection;
        SignInFlow::purge_expired(conn)?;
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            NewSignInFlow {
                id: flow_id,
                jira_instance_id: instance_id,
                jira_user_key: None,
                start_hash: &start_hash,
                browser_hash: &browser_hash,
                state_hash: &state_hash,
                stage: "jira",
                pkce_verifier: &verifier,
                nonce: "",
                expires_at: Utc::now() + chrono::Duration::minutes(FLOW_TTL_MINS),
            }
            .insert(conn)?;
            SignInFlow::set_return(conn, flow_id, &next)
        })?;
        Ok(())
    })
    .await?;
    let redirect = format!("{}/auth/jira/callback", state.internal_url);
    let to = jira.authorize_url(&redirect, &auth.state, &auth.challenge());
    let cookie = browser_cookie(&state, browser);
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .cookie(cookie)
        .finish())
}

/// Opens the Jira user session for a redeemed sign-in (`jira_leg` has proven who signed in)
/// and returns the browser to the flow's `next` page.
pub(super) async fn complete(
    state: &AppState,
    csrf: &CsrfToken,
    flow: &SignInFlow,
    next: String,
    instance: &JiraInstance,
    me: &JiraIdentity,
    tokens: JiraTokens,
) -> Result<HttpResponse, PageError> {
    if !instance.enabled {
        return failed(
            csrf,
            StatusCode::FORBIDDEN,
            "This Jira instance is disabled in the appliance.",
        );
    }
    let token = random::token(32);
    let hash = random::token_hash(&token);
    let name = if me.display_name.is_empty() {
        me.name.clone()
    } else {
        me.display_name.clone()
    };
    let hours = state.settings.jira.user_session_absolute_hours;
    let (vault, key, instance_id, flow_id) =
        (state.vault.clone(), me.key.clone(), instance.id, flow.id);
    let created = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        let session = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let session = JiraUserSession::create(
                conn,
                &vault,
                &NewJiraUserSession {
                    token_hash: &hash,
                    instance: instance_id,
                    jira_user_key: &key,
                    jira_user_name: &name.chars().take(255).collect::<String>(),
                    access_token: tokens.access_token.expose_secret(),
                    refresh_token: tokens.refresh_token.as_ref().map(|r| r.expose_secret()),
                    token_expires_at: Utc::now()
                        + chrono::Duration::seconds(tokens.expires_in as i64),
                    absolute: chrono::Duration::hours(hours),
                },
            )
            .map_err(|e| match e {
                crate::db::models::jira_user_session::SessionWriteError::Db(e) => e,
                crate::db::models::jira_user_session::SessionWriteError::Vault(_) => {
                    diesel::result::Error::RollbackTransaction
                }
            })?;
            SignInFlow::close(conn, flow_id, "done")?;
            Ok(session)
        })?;
        Ok(session)
    })
    .await;
    let session = created.map_err(PageError::from)?;
    tracing::info!(instance.public_id = %instance.public_id, session.id = %session.id, "Jira user signed in to the appliance's pages");
    let next = safe_next(&instance.public_id, &next)
        .unwrap_or_else(|| format!("/jira/{}/me", instance.public_id));
    if admin_return(&next) {
        // the admin's session cookie is SameSite=Strict: a redirect chain that began at Jira
        // would arrive without it, a navigation from this page arrives with it
        use askama::Template;
        let page = BackToAdminPage {
            layout: crate::web::admin::Layout::anonymous(csrf),
            to: next,
        };
        let mut res = crate::web::admin::html(page.render(), StatusCode::OK)?;
        let _ = res.add_cookie(&session_cookie(
            state,
            &instance.public_id,
            token,
            CookieDuration::hours(hours),
        ));
        return Ok(res);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", next))
        .cookie(session_cookie(
            state,
            &instance.public_id,
            token,
            CookieDuration::hours(hours),
        ))
        .finish())
}

/// Starts account linking for a Jira user signed in on the appliance's pages (*Link Microsoft
/// account* on their account page): the same flow as a start link from the Jira app, made
/// server-side for this user. It is safe to start without a signed link: the Jira leg later
/// proves with `/rest/api/2/myself` that this same Jira user signs in, or links nothing.
pub async fn link_microsoft(
    state: &AppState,
    csrf: &CsrfToken,
    instance_id: uuid::Uuid,
    jira_user_key: &str,
) -> Result<HttpResponse, PageError> {
    // a start link is spent by its hash; this start has no link, so a fresh random one
    let start_hash = random::token_hash(&random::token(32));
    match super::start_microsoft::begin(
        state,
        csrf,
        instance_id,
        Some(jira_user_key.to_owned()),
        start_hash,
        |_| Ok(true),
    )
    .await?
    {
        Some(res) => continue_page(csrf, res),
        None => Err(PageError(AppError::internal(anyhow::anyhow!(
            "a fresh start of account linking was refused as used"
        )))),
    }
}

#[derive(askama::Template)]
#[template(path = "jira/back_to_admin.html")]
struct BackToAdminPage {
    layout: crate::web::admin::Layout,
    to: String,
}

#[derive(askama::Template)]
#[template(path = "jira/continue.html")]
struct ContinuePage {
    layout: crate::web::admin::Layout,
    to: String,
}

/// The answer to the *Link Microsoft account* form: a page that goes on to Microsoft by itself
/// (a meta refresh, with a link as well) instead of a redirect. Browsers apply the pages'
/// `form-action 'self'` to redirects after a form post, so a 303 to Microsoft would be blocked;
/// a navigation from a page is not a form post. The flow's browser cookie comes with it.
fn continue_page(csrf: &CsrfToken, started: HttpResponse) -> Result<HttpResponse, PageError> {
    use askama::Template;
    let to = started
        .headers()
        .get(actix_web::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !(300..400).contains(&started.status().as_u16()) {
        // a page that says why the sign-in cannot start (disabled instance, no OAuth link, …)
        return Ok(started);
    }
    let page = ContinuePage {
        layout: crate::web::admin::Layout::anonymous(csrf),
        to,
    };
    let mut res = crate::web::admin::html(page.render(), StatusCode::OK)?;
    for c in started.cookies() {
        let _ = res.add_cookie(&c.into_owned());
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_pages_of_the_instance_under_jira_are_places_to_return_to() {
        assert_eq!(
            safe_next("tHXLY2", "/jira/tHXLY2/issues/10045").as_deref(),
            Some("/jira/tHXLY2/issues/10045")
        );
        assert!(safe_next("tHXLY2", "/jira/tHXLY2/issues/10045/chats/x?cursor=a").is_some());
        for bad in [
            "https://evil.example/jira/tHXLY2/",
            "//evil.example/jira/tHXLY2/",
            "/jira/tHXLY2//evil.example",
            "/jira/OTHER1/me",
            "/admin",
            "/jira/tHXLY2/../../admin",
            "/jira/tHXLY2/\\evil",
            "/jira/tHXLY2/a\nb",
            "/jira/tHXLY2/%2e%2e/%2e%2e/admin",
            "/jira/tHXLY2/%2E%2E/admin",
            "/jira/tHXLY2",
            "/admin/portal-apps",
            "/admin/portal-apps/new?instance=x",
            "/admin/portal-apps/new?instance=5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01&x=1",
            "/admin/portal-apps/new?next=//evil.example",
            "/admin/portal-apps/../instances/5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01/edit",
            "/admin/portal-apps/urn:uuid:5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01/edit",
            "/admin/portal-apps/5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01/delete",
        ] {
            assert_eq!(safe_next("tHXLY2", bad), None, "{bad}");
        }
        for admin in [
            "/admin/portal-apps/new",
            "/admin/portal-apps/new?instance=5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01",
            "/admin/portal-apps/5f0c3a52-7c55-4b8e-a1b7-2f0b9f5e6a01/edit",
        ] {
            assert_eq!(safe_next("tHXLY2", admin).as_deref(), Some(admin));
        }
    }
}
