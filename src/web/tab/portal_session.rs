//! Who is in the portal tab. Teams tab SSO: the tab's script asks Teams for a token
//! (`authentication.getAuthToken()`) and posts it to `/teams/portal/{id}/session`; the token is
//! validated as an Entra access token for this app (signature by the tenant's keys, issuer of the
//! registered tenant, audience, expiry, `access_as_user` scope), and a short-lived session cookie
//! bound to the tenant and object id is set. The cookie is `<claims>.<mac>` with a key derived
//! from the master key, so every daemon behind a load balancer accepts it and nothing is stored.
//! Nothing from a query parameter ever names the user.
//!
//! Inside Teams the page is a third-party iframe: browsers send only `SameSite=None; Secure`
//! cookies there (and `Partitioned` keeps them working where third-party cookies are blocked),
//! so the admin pages' `SameSite=Strict` CSRF cookie never arrives. Portal forms therefore carry
//! a token derived from the session cookie instead, checked together with the same Origin and
//! `Sec-Fetch-Site` rules as the admin forms.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::Vault;
use crate::crypto::random::{self, constant_time_eq};
use crate::db::models::audit::Actor;
use crate::error::AppError;
use crate::services::connections;
use crate::state::AppState;

/// How long a portal session lasts; the tab's script renews it silently through Teams.
pub const SESSION_TTL_SECS: i64 = 1800;
const SESSION_PURPOSE: &str = "teams-portal-session";
const FORM_PURPOSE: &str = "teams-portal-form";

/// The portal session cookie's name (`__Host-` when it is `Secure`).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-jtb_portal"
    } else {
        "jtb_portal"
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Microsoft tenant id.
    t: Uuid,
    /// Microsoft object id.
    o: Uuid,
    /// Expiry, Unix seconds.
    e: i64,
    /// Random, so two sessions differ.
    n: String,
}

/// The Microsoft user of a live portal session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalUser {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
}

/// A new session value for a user.
pub fn make(vault: &Vault, user: PortalUser, now: i64) -> anyhow::Result<String> {
    let claims = Claims {
        t: user.tenant_id,
        o: user.user_id,
        e: now + SESSION_TTL_SECS,
        n: random::token(9),
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?);
    let mac = vault.mac(SESSION_PURPOSE, body.as_bytes())?;
    Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac)))
}

/// The user of a session value, when its MAC holds and it has not expired.
pub fn verify(vault: &Vault, value: &str, now: i64) -> Option<PortalUser> {
    if value.len() > 512 {
        return None;
    }
    let (body, mac) = value.split_once('.')?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let expected = vault.mac(SESSION_PURPOSE, body.as_bytes()).ok()?;
    if !constant_time_eq(&mac, &expected) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    (claims.e >= now).then_some(PortalUser {
        tenant_id: claims.t,
        user_id: claims.o,
    })
}

/// The form token of a session: forms of the page repeat it, so a post from elsewhere fails.
pub fn form_token(vault: &Vault, session_value: &str) -> Option<String> {
    vault
        .mac(FORM_PURPOSE, session_value.as_bytes())
        .ok()
        .map(|m| URL_SAFE_NO_PAD.encode(m))
}

/// The session of this request: its cookie value and user.
pub fn current(req: &HttpRequest, state: &AppState) -> Option<(String, PortalUser)> {
    let value = req
        .cookie(cookie_name(state.secure_cookies))?
        .value()
        .to_owned();
    let user = verify(&state.vault, &value, Utc::now().timestamp())?;
    Some((value, user))
}

/// True when a form post is same-site: Origin (when sent) is this site and the browser does not
/// call it cross-site.
pub fn same_site_post(req: &HttpRequest) -> bool {
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        == Some("cross-site");
    crate::web::session::origin_ok(req) && !cross_site
}

/// The Application ID URI Teams SSO tokens are issued for: `api://<internal host>/<client id>`.
pub fn app_id_uri(internal_url: &str, client_id: &str) -> String {
    let authority = url::Url::parse(internal_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_default();
    format!("api://{authority}/{client_id}")
}

/// The body the tab's script posts.
#[derive(Deserialize)]
pub struct SessionBody {
    token: String,
}

fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
    AppError::client(status, code, message)
}

/// `POST /teams/portal/{id}/session`: `{"token": "<Teams SSO token>"}` → session cookie (204).
/// JSON only, so a cross-site HTML form cannot log a browser into someone else's session.
pub async fn session_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<SessionBody>,
) -> Result<HttpResponse, AppError> {
    super::portal_app::find_portal(&state, &path).await?;
    if !same_site_post(&req) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "cross_site",
            "This sign-in was sent from another site.",
        ));
    }
    if body.token.is_empty() || body.token.len() > 16 * 1024 {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "tab_token_invalid",
            "Microsoft Teams did not send a usable sign-in token.",
        ));
    }
    let ms = connections::microsoft(&state, &Actor::System("teams portal".into())).await?;
    let uri = app_id_uri(&state.internal_url, ms.signin.client_id());
    let who = match ms.signin.validate_tab_token(&body.token, &uri).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "Teams tab token refused");
            return Err(refused(
                StatusCode::UNAUTHORIZED,
                "tab_token_invalid",
                format!("The Microsoft Teams sign-in could not be verified: {e}"),
            ));
        }
    };
    let user = PortalUser {
        tenant_id: who.tenant_id,
        user_id: who.user_id,
    };
    let value = make(&state.vault, user, Utc::now().timestamp()).map_err(AppError::internal)?;
    let secure = state.secure_cookies;
    let cookie = Cookie::build(cookie_name(secure), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        // inside the Teams iframe only SameSite=None cookies are sent, and those need Secure;
        // over plain http (tests, a first look) Lax keeps the page usable outside Teams
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(CookieDuration::seconds(SESSION_TTL_SECS))
        .finish();
    // Partitioned (CHIPS): kept per top-level site, so it works where third-party cookies are
    // blocked (actix's cookie crate predates the attribute)
    let mut set_cookie = cookie.to_string();
    if secure {
        set_cookie.push_str("; Partitioned");
    }
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((actix_web::http::header::SET_COOKIE, set_cookie))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keyring;

    #[test]
    fn sessions_verify_until_they_expire_and_not_after_tampering() {
        let vault = Vault::from_keyring(Keyring::generate());
        let user = PortalUser {
            tenant_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
        };
        let v = make(&vault, user, 1_000).unwrap();
        assert_eq!(verify(&vault, &v, 1_000 + SESSION_TTL_SECS), Some(user));
        assert_eq!(verify(&vault, &v, 1_001 + SESSION_TTL_SECS), None);
        let (body, mac) = v.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap())
                .unwrap()
                .replace(&user.user_id.to_string(), &Uuid::new_v4().to_string()),
        );
        assert_eq!(verify(&vault, &format!("{other}.{mac}"), 1_500), None);
        let foreign = Vault::from_keyring(Keyring::generate());
        assert_eq!(verify(&foreign, &v, 1_500), None);
        assert_ne!(form_token(&vault, &v), form_token(&foreign, &v));
    }

    #[test]
    fn the_app_id_uri_names_the_internal_host() {
        assert_eq!(
            app_id_uri("https://bridge.example", "abc"),
            "api://bridge.example/abc"
        );
        assert_eq!(
            app_id_uri("http://127.0.0.1:8080", "abc"),
            "api://127.0.0.1:8080/abc"
        );
    }
}
