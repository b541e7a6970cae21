//! Middleware: security headers, request ids with one log line per request, the first-run setup
//! gate, and the CSRF cookie.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, HttpResponse, web};
use tracing::Instrument;

use crate::db;
use crate::db::models::admin_user::AdminUser;
use crate::state::AppState;
use crate::web::session::{CsrfToken, cookie, csrf_cookie as csrf_cookie_name};

/// Content Security Policy: no inline script, no framing, same-origin forms and styles.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every response. The referrer policy is `same-origin`, not `no-referrer`:
/// under `no-referrer` browsers send `Origin: null` with form posts, which the CSRF origin
/// check must refuse.
pub fn security_headers(tls: bool) -> DefaultHeaders {
    let mut h = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .add((
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
        .add((header::CACHE_CONTROL, "no-store"));
    if tls {
        h = h.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    h
}

/// The id of the current request (also sent back as `X-Request-Id`).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Gives each request an id, runs it inside a span carrying it, and logs one line at the end.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    // the path only: query strings may carry one-time tokens
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request.id = %id);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    match result {
        Ok(mut res) => {
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), v);
            }
            tracing::info!(http.method = %method, http.path = %path, http.status = res.status().as_u16(), duration_ms = started.elapsed().as_millis() as u64, "request");
            Ok(res.map_into_boxed_body())
        }
        Err(e) => {
            tracing::warn!(http.method = %method, http.path = %path, error = %e, duration_ms = started.elapsed().as_millis() as u64, "request failed");
            Err(e)
        }
    }
}

/// Machine endpoints authenticate themselves and need no admin; they pass the setup gate.
fn allowed_during_setup(path: &str) -> bool {
    matches!(
        path,
        "/setup" | "/healthz" | "/readyz" | "/metrics" | "/static/app.css" | "/static/teams-16.png"
    ) || path.starts_with("/api/")
        || path.starts_with("/webhooks/")
}

/// Until an admin exists, every page but `/setup` (and health) redirects there.
pub async fn setup_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if !state.is_setup_done() && !allowed_during_setup(req.path()) {
        let done = db::run(&state.pool, |conn| Ok(AdminUser::any_exists(conn)?)).await;
        match done {
            Ok(true) => state.mark_setup_done(),
            Ok(false) => {
                let res = HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/setup"))
                    .finish();
                return Ok(req.into_response(res));
            }
            // answered here (not as Err) so the security headers still apply
            Err(e) => {
                use actix_web::ResponseError;
                let res = crate::error::PageError::from(e).error_response();
                return Ok(req.into_response(res));
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Makes sure the browser holds a CSRF cookie; the token is available to handlers as
/// [`CsrfToken`] in the request extensions.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // machine endpoints carry no forms
    if matches!(
        req.path(),
        "/healthz" | "/readyz" | "/metrics" | "/static/app.css" | "/static/teams-16.png"
    ) || req.path().starts_with("/api/")
        || req.path().starts_with("/webhooks/")
    {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.secure_cookies);
    let existing = req
        .cookie(csrf_cookie_name(secure))
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let (token, fresh) = match existing {
        Some(t) => (t, false),
        None => (crate::crypto::random::token(32), true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.call(req).await?.map_into_boxed_body();
    if fresh {
        let c = cookie(csrf_cookie_name(secure), token, secure, None);
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// The hosts that may frame the Teams tab pages: Teams, Microsoft 365 and Outlook on the web
/// (Microsoft's "tab requirements" list, including the `*.cloud.microsoft` migration).
pub const TEAMS_FRAME_ANCESTORS: &str = "https://teams.microsoft.com https://*.teams.microsoft.com https://*.cloud.microsoft https://*.microsoft365.com https://*.office.com https://outlook.office.com https://outlook.office365.com";

/// Content Security Policy of the Teams tab pages: [`CSP`] plus the tab's own script and the
/// Teams JavaScript library (Microsoft's CDN, pinned with an integrity hash in the page), `fetch`
/// to this site, and framing by [`TEAMS_FRAME_ANCESTORS`] only.
pub fn portal_csp() -> String {
    format!(
        "default-src 'none'; script-src 'self' https://res.cdn.office.net; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors {TEAMS_FRAME_ANCESTORS}; base-uri 'none'"
    )
}

/// True for the pages Teams shows as tabs.
pub fn is_teams_tab(path: &str) -> bool {
    path.starts_with("/teams/portal/")
}

/// Lets Teams frame the tab pages (and nothing else): swaps their CSP for [`portal_csp`] and drops
/// `X-Frame-Options: DENY`, which cannot name the Teams hosts. Wrapped outside
/// [`security_headers`] so it sees the headers that one added.
pub async fn portal_framing(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let tab = is_teams_tab(req.path());
    let mut res = next.call(req).await?.map_into_boxed_body();
    if tab {
        if let Ok(v) = HeaderValue::from_str(&portal_csp()) {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
        res.headers_mut().remove(header::X_FRAME_OPTIONS);
    }
    Ok(res)
}
