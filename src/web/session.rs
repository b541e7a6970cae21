//! Admin sessions (cookie → hashed token → `admin_session` row) and CSRF protection for forms
//! (a per-browser random token in an HttpOnly SameSite=Strict cookie that each form repeats in a
//! hidden `csrf` field, plus an Origin check).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::crypto::random;
use crate::db;
use crate::db::models::admin_session::AdminSession;
use crate::db::models::admin_user::AdminUser;
use crate::error::{AppError, PageError};
use crate::state::AppState;

/// Session cookie name; with `Secure` the `__Host-` prefix stops sibling hosts from setting it.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-jtb_session"
    } else {
        "jtb_session"
    }
}

/// CSRF cookie name (see [`session_cookie`]).
pub fn csrf_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-jtb_csrf"
    } else {
        "jtb_csrf"
    }
}

fn secure(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.secure_cookies)
}

/// Builds a hardened cookie (HttpOnly, SameSite=Strict, Path=/, Secure when asked).
pub fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<CookieDuration>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure);
    if let Some(age) = max_age {
        c = c.max_age(age);
    }
    c.finish()
}

/// A cookie that removes `name` from the browser.
pub fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure, Some(CookieDuration::ZERO));
    c.make_removal();
    c
}

/// The signed-in admin, extracted from the session cookie. Requests without a live session are
/// redirected to `/login`.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: Uuid,
    pub username: String,
}

/// Answer for a request that needs a session and has none.
#[derive(Debug, thiserror::Error)]
pub enum SessionRejection {
    #[error("login required")]
    LoginRequired,
    #[error(transparent)]
    Page(#[from] PageError),
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            SessionRejection::LoginRequired => StatusCode::SEE_OTHER,
            SessionRejection::Page(p) => p.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            SessionRejection::LoginRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
            SessionRejection::Page(p) => p.error_response(),
        }
    }
}

impl FromRequest for Admin {
    type Error = SessionRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .cookie(session_cookie(secure(req)))
            .map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(SessionRejection::LoginRequired);
            };
            if token.is_empty() || token.len() > 128 {
                return Err(SessionRejection::LoginRequired);
            }
            let hash = random::token_hash(&token);
            let idle = chrono::Duration::minutes(state.settings.admin.session_idle_mins);
            let found = db::run(&state.pool, move |conn| {
                let Some(session) = AdminSession::find_live(conn, &hash, idle)? else {
                    return Ok(None);
                };
                Ok(AdminUser::find(conn, session.admin_user_id)?)
            })
            .await
            .map_err(|e| SessionRejection::Page(e.into()))?;
            match found {
                Some(user) => Ok(Admin {
                    id: user.id,
                    username: user.username,
                }),
                None => Err(SessionRejection::LoginRequired),
            }
        })
    }
}

/// The browser's CSRF token (set by the `csrf_cookie` middleware), for rendering forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl FromRequest for CsrfToken {
    type Error = PageError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.extensions().get::<CsrfToken>().cloned();
        std::future::ready(token.ok_or_else(|| {
            PageError(AppError::internal(anyhow::anyhow!(
                "csrf middleware missing"
            )))
        }))
    }
}

/// A POST form with nothing but its CSRF token (buttons such as Disable, Retry, Log out).
pub type EmptyForm = CsrfForm<std::collections::HashMap<String, String>>;

/// A form body whose `csrf` field matched the browser's CSRF cookie and whose Origin (when sent)
/// is this site. Anything else is refused with 403 before the handler runs.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

fn forbidden_csrf() -> PageError {
    PageError(AppError::client(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "This form has expired or was sent from another site. Reload the page and try again.",
    ))
}

/// True when the request's Origin (when sent) is this site.
pub fn origin_ok(req: &HttpRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    // this listener as the browser sees it, or the configured public URL of it
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let configured = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| url::Url::parse(&s.internal_url).ok())
        .map(|u| u.origin().ascii_serialization());
    origin.eq_ignore_ascii_case(&own) || configured.is_some_and(|c| origin.eq_ignore_ascii_case(&c))
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // the token the csrf middleware validated from the cookie (a fresh one when none came)
        let cookie = req.extensions().get::<CsrfToken>().map(|t| t.0.clone());
        let origin_ok = origin_ok(req);
        let cross_site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            == Some("cross-site");
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| {
                PageError(AppError::client(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "form_too_large",
                    "The form is too large.",
                ))
            })?;
            if !origin_ok || cross_site {
                return Err(forbidden_csrf());
            }
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| forbidden_csrf())?;
            let sent = pairs
                .iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.as_str());
            match (cookie, sent) {
                (Some(c), Some(s))
                    if !c.is_empty() && random::constant_time_eq(c.as_bytes(), s.as_bytes()) => {}
                _ => return Err(forbidden_csrf()),
            }
            let form: T = serde_urlencoded::from_bytes(&body).map_err(|e| {
                PageError(AppError::client(
                    StatusCode::BAD_REQUEST,
                    "form_invalid",
                    format!("The form is incomplete: {e}"),
                ))
            })?;
            Ok(CsrfForm(form))
        })
    }
}
