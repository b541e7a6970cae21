//! Per-instance Jira webhook set-up: a signing secret (shown once, stored encrypted) or a URL
//! token (shown once, only its hash stored), and *Register in Jira for me* with a Jira
//! administrator's personal access token used for that one request (see
//! `services::webhook_registration`). The manual steps stay for sites that prefer them.

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
use crate::services::webhook_registration::{self, Change, RegisterError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

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
    /// What *Register in Jira for me* did, or Jira's answer when it did nothing.
    notice: Option<String>,
    problem: Option<String>,
    notes: Vec<String>,
}

/// What a form shows once on the page.
#[derive(Default)]
struct Shown {
    url: Option<String>,
    secret: Option<String>,
    notice: Option<String>,
    problem: Option<String>,
    notes: Vec<String>,
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
    shown: Shown,
    status_code: StatusCode,
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
        webhook_url: webhook_registration::webhook_url(state, i),
        has_secret: i.webhook_secret.is_some(),
        shown_url: shown.url,
        shown_secret: shown.secret,
        notice: shown.notice,
        problem: shown.problem,
        notes: shown.notes,
    };
    super::html(page.render(), status_code)
}

/// The webhook page.
pub async fn webhook_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    render(&state, &admin, &csrf, &i, Shown::default(), StatusCode::OK)
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
    let shown = Shown {
        secret: Some(secret),
        ..Shown::default()
    };
    render(&state, &admin, &csrf, &i, shown, StatusCode::OK)
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
    render(&state, &admin, &csrf, &i, Shown::default(), StatusCode::OK)
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
    let shown = Shown {
        url: Some(url),
        ..Shown::default()
    };
    render(&state, &admin, &csrf, &i, shown, StatusCode::OK)
}

/// The *Register in Jira for me* form: a Jira administrator's personal access token, kept in
/// memory for this request only.
#[derive(serde::Deserialize)]
pub struct RegisterForm {
    pat: secrecy::SecretString,
}

/// Registers the webhook in Jira (or brings it up to date) and answers with this page: what
/// was done, or Jira's answer.
pub async fn webhook_register_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    form: CsrfForm<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    use secrecy::ExposeSecret;
    let i = load(&state, path.into_inner()).await?;
    let pat = form.0.pat;
    if pat.expose_secret().trim().is_empty() {
        let shown = Shown {
            problem: Some("Enter a Jira administrator's personal access token.".into()),
            ..Shown::default()
        };
        return render(&state, &admin, &csrf, &i, shown, StatusCode::BAD_REQUEST);
    }
    let pat = secrecy::SecretString::from(pat.expose_secret().trim().to_owned());
    let result = webhook_registration::register(&state, &i, &admin.username, pat).await;
    // the credential may have changed
    let i = load(&state, i.id).await?;
    let shown = match result {
        Ok(r) => Shown {
            notice: Some(match r.change {
                Change::Unchanged => format!(
                    "Jira {}: the webhook is already registered, nothing changed.",
                    r.version
                ),
                Change::Created => format!(
                    "Jira {}: the webhook was created at {}.",
                    r.version,
                    r.api.path()
                ),
                Change::Updated => format!(
                    "Jira {}: the webhook was updated at {}.",
                    r.version,
                    r.api.path()
                ),
            }),
            secret: r.new_secret.map(|s| s.expose_secret().to_owned()),
            url: r.new_url.map(|u| u.expose_secret().to_owned()),
            notes: r.notes,
            problem: None,
        },
        Err(RegisterError::Jira(text)) => Shown {
            problem: Some(format!("Nothing was changed. {text}")),
            ..Shown::default()
        },
        Err(RegisterError::Internal(e)) => return Err(PageError(e)),
    };
    // Jira's refusal is an answer of this page, not an error of the appliance
    render(&state, &admin, &csrf, &i, shown, StatusCode::OK)
}
