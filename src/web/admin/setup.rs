//! First-run setup: `/setup?token=…` creates the first admin, then the token is burned.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, see_other};
use crate::crypto::{password, random};
use crate::db;
use crate::db::models::admin_user::{AdminUser, NewAdminUser};
use crate::db::models::setup_token::{self, SetupToken};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::admin::login::start_session;
use crate::web::session::{CsrfForm, CsrfToken};

#[derive(Default)]
struct SetupErrors {
    username: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
    form: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    layout: Layout,
    token_ok: bool,
    token: String,
    username: String,
    errors: SetupErrors,
    message: String,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

async fn token_matches(state: &AppState, token: &str) -> Result<bool, PageError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(false);
    }
    let hash = random::token_hash(token);
    let stored = db::run(&state.pool, |conn| Ok(SetupToken::hash(conn)?)).await?;
    Ok(stored.is_some_and(|s| random::constant_time_eq(&s, &hash)))
}

async fn setup_finished(state: &AppState) -> Result<bool, PageError> {
    if state.is_setup_done() {
        return Ok(true);
    }
    Ok(db::run(&state.pool, |conn| Ok(AdminUser::any_exists(conn)?)).await?)
}

/// The setup form, shown only with the valid one-time token.
pub async fn setup_page(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, PageError> {
    if setup_finished(&state).await? {
        return Ok(see_other("/login"));
    }
    let token = query.into_inner().token.unwrap_or_default();
    let ok = token_matches(&state, &token).await?;
    let page = SetupPage {
        layout: Layout::anonymous(&csrf),
        token_ok: ok,
        token: if ok { token.clone() } else { String::new() },
        username: String::new(),
        errors: SetupErrors::default(),
        message: if token.is_empty() {
            "This page needs the one-time setup link.".into()
        } else {
            "This setup link is not valid (it may have been replaced by a newer one).".into()
        },
    };
    render(
        page,
        if ok {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        },
    )
}

fn render(page: SetupPage, status: StatusCode) -> Result<HttpResponse, PageError> {
    super::html(page.render(), status)
}

/// The submitted setup form.
#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    username: String,
    password: String,
    password_confirm: String,
}

/// Creates the first admin, burns the token and signs the admin in.
pub async fn setup_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    csrf: CsrfToken,
    form: CsrfForm<SetupForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    if setup_finished(&state).await? {
        return Ok(see_other("/login"));
    }
    if !token_matches(&state, &form.token).await? {
        let page = SetupPage {
            layout: Layout::anonymous(&csrf),
            token_ok: false,
            token: String::new(),
            username: String::new(),
            errors: SetupErrors::default(),
            message: "This setup link is not valid (it may have been replaced by a newer one)."
                .into(),
        };
        return render(page, StatusCode::FORBIDDEN);
    }
    let username = form.username.trim().to_owned();
    let mut errors = SetupErrors::default();
    if username.is_empty()
        || username.len() > 64
        || !username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        errors.username = Some("Use 1 to 64 letters, digits or . _ @ -".into());
    }
    if let Some(problem) = password::policy_problem(&form.password) {
        errors.password = Some(problem);
    } else if form.password != form.password_confirm {
        errors.password_confirm = Some("The passwords do not match.".into());
    }
    if errors.username.is_some() || errors.password.is_some() || errors.password_confirm.is_some() {
        let page = SetupPage {
            layout: Layout::anonymous(&csrf),
            token_ok: true,
            token: form.token,
            username,
            errors,
            message: String::new(),
        };
        return render(page, StatusCode::UNPROCESSABLE_ENTITY);
    }

    let pw = form.password;
    let hash = web::block(move || password::hash(&pw))
        .await
        .map_err(|e| PageError(AppError::internal(e)))?
        .map_err(|e| PageError(AppError::internal(e)))?;
    let token_hash = random::token_hash(&form.token);
    let name = username.clone();
    let created = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        conn.transaction(|conn| {
            // the row lock makes two concurrent submissions of the same token serialise
            let burned = SetupToken::take(conn)?;
            if !burned.is_some_and(|h| random::constant_time_eq(&h, &token_hash))
                || AdminUser::any_exists(conn)?
            {
                return Ok(None);
            }
            let user = AdminUser::insert(
                conn,
                &NewAdminUser {
                    id: Uuid::new_v4(),
                    username: &name,
                    password_hash: &hash,
                },
            )?;
            Ok(Some(user))
        })
    })
    .await?;
    let Some(user) = created else {
        let page = SetupPage {
            layout: Layout::anonymous(&csrf),
            token_ok: false,
            token: String::new(),
            username,
            errors: SetupErrors::default(),
            message: "Setup was already completed with this link.".into(),
        };
        return render(page, StatusCode::CONFLICT);
    };
    setup_token::remove_token_file(&state.settings.paths.state_dir);
    state.mark_setup_done();
    tracing::info!(admin.id = %user.id, "first admin created; setup token burned");
    let cookie = start_session(&state, &req, user.id).await?;
    let mut res = see_other("/admin/instances?notice=welcome");
    res.add_cookie(&cookie)
        .map_err(|e| PageError(AppError::internal(e)))?;
    Ok(res)
}
