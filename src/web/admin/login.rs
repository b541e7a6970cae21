//! Admin sign-in (argon2id, throttled after repeated failures) and sign-out.

use actix_web::cookie::{Cookie, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, see_other};
use crate::crypto::{password, random};
use crate::db;
use crate::db::models::admin_session::AdminSession;
use crate::db::models::admin_user::AdminUser;
use crate::db::models::login_attempt::{Admission, LoginAttempt};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{CsrfForm, CsrfToken, EmptyForm, cookie, removal_cookie, session_cookie};

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    error: Option<String>,
}

fn render(page: LoginPage, status: StatusCode) -> Result<HttpResponse, PageError> {
    super::html(page.render(), status)
}

/// The sign-in form.
pub async fn login_page(csrf: CsrfToken) -> Result<HttpResponse, PageError> {
    render(
        LoginPage {
            layout: Layout::anonymous(&csrf),
            username: String::new(),
            error: None,
        },
        StatusCode::OK,
    )
}

/// The submitted sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// The address throttling counts against: the TCP peer (proxies' headers are not trusted).
fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Checks the password, throttling repeated failures per user name and per address.
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    let username = form.username.trim().chars().take(64).collect::<String>();
    let ip = client_ip(&req);
    let lockout_mins = state.settings.admin.login_lockout_mins;
    let max_failures = state.settings.admin.login_max_failures;
    let since = chrono::Utc::now() - chrono::Duration::minutes(lockout_mins);

    let (u, i) = (username.clone(), ip.clone());
    let (admission, user) = db::run(&state.pool, move |conn| {
        let admission = LoginAttempt::begin(conn, &u, &i, since, max_failures)?;
        let user = AdminUser::find_by_username(conn, &u)?;
        Ok((admission, user))
    })
    .await?;
    let (attempt_id, failures) = match admission {
        Admission::Allowed {
            attempt_id,
            earlier_failures,
        } => (attempt_id, earlier_failures),
        Admission::Blocked { failures } => {
            tracing::warn!(client.ip = %ip, login.failures = failures, "sign-in refused: too many failed attempts");
            let error =
                format!("Too many failed sign-in attempts. Try again in {lockout_mins} minutes.");
            return render(
                LoginPage {
                    layout: Layout::anonymous(&csrf),
                    username,
                    error: Some(error),
                },
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    };

    // unknown users cost the same time as known ones
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let pw = form.password;
    let matches = web::block(move || password::verify(&pw, &stored))
        .await
        .map_err(|e| PageError(AppError::internal(e)))?;
    let ok = matches && user.is_some();

    let Some(user) = user.filter(|_| ok) else {
        tracing::warn!(client.ip = %ip, login.failures = failures + 1, "sign-in failed");
        let error = if max_failures - failures - 1 > 0 {
            "The user name or password is wrong.".to_owned()
        } else {
            format!(
                "The user name or password is wrong. Sign-in is now blocked for {lockout_mins} minutes."
            )
        };
        return render(
            LoginPage {
                layout: Layout::anonymous(&csrf),
                username,
                error: Some(error),
            },
            StatusCode::UNAUTHORIZED,
        );
    };
    db::run(&state.pool, move |conn| {
        Ok(LoginAttempt::mark_succeeded(conn, attempt_id)?)
    })
    .await?;
    let id = user.id;
    db::run(&state.pool, move |conn| {
        Ok(AdminUser::touch_login(conn, id)?)
    })
    .await?;
    tracing::info!(admin.id = %user.id, client.ip = %ip, "admin signed in");
    let c = start_session(&state, &req, user.id).await?;
    let mut res = see_other("/admin");
    res.add_cookie(&c)
        .map_err(|e| PageError(AppError::internal(e)))?;
    crate::web::jira::session::end_all_of_browser(&state, &req, &mut res).await?;
    Ok(res)
}

/// Creates a session row and returns its cookie.
pub async fn start_session(
    state: &AppState,
    _req: &HttpRequest,
    admin_id: Uuid,
) -> Result<Cookie<'static>, PageError> {
    let token = random::token(32);
    let hash = random::token_hash(&token);
    let absolute = chrono::Duration::hours(state.settings.admin.session_absolute_hours);
    let idle = chrono::Duration::minutes(state.settings.admin.session_idle_mins);
    db::run(&state.pool, move |conn| {
        AdminSession::purge_expired(conn, idle)?;
        LoginAttempt::purge_before(conn, chrono::Utc::now() - chrono::Duration::days(1))?;
        Ok(AdminSession::create(conn, admin_id, &hash, absolute)?)
    })
    .await?;
    let max_age = CookieDuration::hours(state.settings.admin.session_absolute_hours);
    Ok(cookie(
        session_cookie(state.secure_cookies),
        token,
        state.secure_cookies,
        Some(max_age),
    ))
}

/// Ends the session (form POST with CSRF token).
pub async fn logout_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    if let Some(c) = req.cookie(session_cookie(state.secure_cookies)) {
        let hash = random::token_hash(c.value());
        db::run(&state.pool, move |conn| {
            Ok(AdminSession::delete_by_token(conn, &hash)?)
        })
        .await?;
    }
    let mut res = see_other("/login");
    res.add_cookie(&removal_cookie(
        session_cookie(state.secure_cookies),
        state.secure_cookies,
    ))
    .map_err(|e| PageError(AppError::internal(e)))?;
    crate::web::jira::session::end_all_of_browser(&state, &req, &mut res).await?;
    Ok(res)
}
