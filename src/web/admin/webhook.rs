//! Per-instance Jira webhook set-up: a signing secret (shown once, stored encrypted) or a URL
//! token (shown once, only its hash stored).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use uuid::Uuid;

use super::Layout;
use crate::crypto::random;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken, EmptyForm};

#[derive(Template, WebTemplate)]
#[template(path = "admin/instance_webhook.html")]
struct WebhookPage {
    layout: Layout,
    id: Uuid,
    base_url: String,
    status: &'static str,
    webhook_url: String,
    has_secret: bool,
    shown_url: Option<String>,
    shown_secret: Option<String>,
}

async fn load(state: &AppState, id: Uuid) -> Result<JiraInstance, PageError> {
    db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This Jira instance")))
}

fn render(
    state: &AppState,
    admin: &Admin,
    csrf: &CsrfToken,
    i: &JiraInstance,
    shown_url: Option<String>,
    shown_secret: Option<String>,
) -> Result<HttpResponse, PageError> {
    let status = match (&i.webhook_secret, &i.webhook_token_hash) {
        (Some(_), _) => "signed deliveries required (webhook secret set)",
        (None, Some(_)) => "URL token required",
        (None, None) => "not set up: deliveries are refused",
    };
    let page = WebhookPage {
        layout: Layout::for_admin(admin, csrf, None),
        id: i.id,
        base_url: i.base_url.clone(),
        status,
        webhook_url: format!("{}/webhooks/jira/{}", state.internal_url, i.public_id),
        has_secret: i.webhook_secret.is_some(),
        shown_url,
        shown_secret,
    };
    super::html(page.render(), StatusCode::OK)
}

/// The webhook page.
pub async fn webhook_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    render(&state, &admin, &csrf, &i, None, None)
}

async fn set_secret(
    state: &AppState,
    id: Uuid,
    secret: Option<String>,
) -> Result<JiraInstance, PageError> {
    let vault = state.vault.clone();
    db::run(&state.pool, move |conn| {
        Ok(JiraInstance::set_webhook_secret(
            conn,
            &vault,
            id,
            secret.as_deref(),
        ))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    load(state, id).await
}

/// Generates a webhook secret and shows it once.
pub async fn webhook_secret_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let secret = random::token(32);
    let i = set_secret(&state, path.into_inner(), Some(secret.clone())).await?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "webhook secret generated");
    render(&state, &admin, &csrf, &i, None, Some(secret))
}

/// Removes the webhook secret (the URL token, if any, applies again).
pub async fn webhook_secret_remove_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let i = set_secret(&state, path.into_inner(), None).await?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "webhook secret removed");
    render(&state, &admin, &csrf, &i, None, None)
}

/// Generates a URL token and shows the full URL once.
pub async fn webhook_token_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let token = random::token(32);
    let hash = random::token_hash(&token);
    db::run(&state.pool, move |conn| {
        Ok(JiraInstance::set_webhook_token_hash(conn, id, Some(&hash))?)
    })
    .await?;
    let i = load(&state, id).await?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "webhook URL token generated");
    let url = format!(
        "{}/webhooks/jira/{}?token={token}",
        state.internal_url, i.public_id
    );
    render(&state, &admin, &csrf, &i, Some(url), None)
}
