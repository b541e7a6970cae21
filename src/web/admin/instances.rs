//! Jira instances: register (secret shown once), regenerate secret, enable/disable, export,
//! and delete, which is the data lifecycle's erase (disabled first, deliveries in batches, the
//! rest in one transaction, audit tombstone).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::instances_overview::{Setup, setups};
use super::{Layout, see_other};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::{CreateInstanceError, JiraInstance};
use crate::db::models::lifecycle::{self, LifecycleError, Subject};
use crate::domain::{JiraBaseUrl, SharedSecret};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

/// One instance row for display (no ciphertext).
pub struct InstanceView {
    pub id: Uuid,
    pub base_url: String,
    pub public_id: String,
    pub secret_hint: String,
    pub enabled: bool,
    /// The setup at a glance and the next step.
    pub setup: Setup,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/instances.html")]
struct InstancesPage {
    layout: Layout,
    instances: Vec<InstanceView>,
    base_url: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/instance_secret.html")]
struct InstanceSecretPage {
    layout: Layout,
    heading: &'static str,
    base_url: String,
    public_id: String,
    secret: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/instance_confirm.html")]
struct InstanceConfirmPage {
    layout: Layout,
    heading: &'static str,
    warning: &'static str,
    button: &'static str,
    action: String,
    base_url: String,
    public_id: String,
    ask_public_id: bool,
    error: Option<String>,
}

async fn list_views(state: &AppState) -> Result<Vec<InstanceView>, PageError> {
    let rows = db::run(&state.pool, |conn| Ok(JiraInstance::list(conn)?)).await?;
    let setups = setups(state, &rows).await?;
    Ok(rows
        .into_iter()
        .zip(setups)
        .map(|(i, setup)| InstanceView {
            id: i.id,
            base_url: i.base_url,
            public_id: i.public_id,
            secret_hint: i.shared_secret_hint,
            enabled: i.enabled,
            setup,
        })
        .collect())
}

async fn load(state: &AppState, id: Uuid) -> Result<JiraInstance, PageError> {
    db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
        .await?
        .ok_or_else(|| PageError(AppError::not_found("This Jira instance")))
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// The instance list and the registration form.
pub async fn instances_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let page = InstancesPage {
        layout: Layout::for_admin(&admin, &csrf, super::notice_text(q.notice.as_deref())),
        instances: list_views(&state).await?,
        base_url: String::new(),
        error: None,
    };
    super::html(page.render(), StatusCode::OK)
}

/// The registration form.
#[derive(Deserialize)]
pub struct CreateForm {
    base_url: String,
}

/// Registers an instance and shows its shared secret, this once.
pub async fn instance_create_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    form: CsrfForm<CreateForm>,
) -> Result<HttpResponse, PageError> {
    let typed = form.0.base_url;
    let url = match JiraBaseUrl::parse(&typed) {
        Ok(u) => u,
        Err(e) => return refuse_create(&state, &admin, &csrf, &typed, e.to_string()).await,
    };
    let secret = SharedSecret::generate();
    let vault = state.vault.clone();
    let result = {
        let url = url.clone();
        let secret = SharedSecret::from_string(secret.expose().to_owned());
        db::run(&state.pool, move |conn| {
            Ok(JiraInstance::create(conn, &vault, &url, &secret))
        })
        .await?
    };
    let created = match result {
        Ok(i) => i,
        Err(CreateInstanceError::DuplicateUrl) => {
            return refuse_create(
                &state,
                &admin,
                &csrf,
                &typed,
                format!("{url} is already registered."),
            )
            .await;
        }
        Err(e) => return Err(PageError(AppError::internal(e))),
    };
    tracing::info!(instance.public_id = %created.public_id, instance.base_url = %created.base_url, "Jira instance registered");
    let page = InstanceSecretPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        heading: "Jira instance registered",
        base_url: created.base_url,
        public_id: created.public_id,
        secret: secret.expose().to_owned(),
    };
    super::html(page.render(), StatusCode::CREATED)
}

async fn refuse_create(
    state: &AppState,
    admin: &Admin,
    csrf: &CsrfToken,
    typed: &str,
    error: String,
) -> Result<HttpResponse, PageError> {
    let page = InstancesPage {
        layout: Layout::for_admin(admin, csrf, None),
        instances: list_views(state).await?,
        base_url: typed.chars().take(2048).collect(),
        error: Some(error),
    };
    super::html(page.render(), StatusCode::UNPROCESSABLE_ENTITY)
}

/// Asks before regenerating the shared secret.
pub async fn regenerate_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    let page = InstanceConfirmPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        heading: "Regenerate the shared secret",
        warning: "The current secret stops working at once: the Jira app is refused until you enter the new secret there.",
        button: "Regenerate secret",
        action: format!("/admin/instances/{}/regenerate", i.id),
        base_url: i.base_url,
        public_id: i.public_id,
        ask_public_id: false,
        error: None,
    };
    super::html(page.render(), StatusCode::OK)
}

/// Regenerates the shared secret and shows the new one, this once.
pub async fn regenerate_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    let secret = SharedSecret::generate();
    let vault = state.vault.clone();
    let id = i.id;
    let copy = SharedSecret::from_string(secret.expose().to_owned());
    let replaced = db::run(&state.pool, move |conn| {
        Ok(JiraInstance::replace_secret(conn, &vault, id, &copy))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    if !replaced {
        return Err(PageError(AppError::not_found("This Jira instance")));
    }
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, "shared secret regenerated");
    let page = InstanceSecretPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        heading: "New shared secret",
        base_url: i.base_url,
        public_id: i.public_id,
        secret: secret.expose().to_owned(),
    };
    super::html(page.render(), StatusCode::OK)
}

async fn set_enabled(
    state: &AppState,
    admin: &Admin,
    id: Uuid,
    enabled: bool,
) -> Result<HttpResponse, PageError> {
    let changed = db::run(&state.pool, move |conn| {
        Ok(JiraInstance::set_enabled(conn, id, enabled)?)
    })
    .await?;
    if !changed {
        return Err(PageError(AppError::not_found("This Jira instance")));
    }
    tracing::info!(instance.id = %id, admin.id = %admin.id, enabled, "Jira instance enabled flag changed");
    Ok(see_other(if enabled {
        "/admin/instances?notice=enabled"
    } else {
        "/admin/instances?notice=disabled"
    }))
}

/// Enables an instance.
pub async fn enable_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    set_enabled(&state, &admin, path.into_inner(), true).await
}

/// Disables an instance.
pub async fn disable_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    set_enabled(&state, &admin, path.into_inner(), false).await
}

fn delete_confirm(
    admin: &Admin,
    csrf: &CsrfToken,
    i: JiraInstance,
    error: Option<String>,
) -> InstanceConfirmPage {
    InstanceConfirmPage {
        layout: Layout::for_admin(admin, csrf, None),
        heading: "Erase (delete) Jira instance",
        warning: "This disables the instance (its webhooks are refused from then on), deletes its queued and delivered messages in batches, then erases everything else stored for it in one transaction: user mappings, chat links, shared access, subscriptions, settings, portal apps, tokens, sign-ins in progress and queued deliveries, and the Teams settings of its users unless another instance links them. Audit rows stay, and a tombstone records the erasure. It cannot be undone: download the export first if you need it.",
        button: "Erase instance and its data",
        action: format!("/admin/instances/{}/delete", i.id),
        base_url: i.base_url,
        public_id: i.public_id,
        ask_public_id: true,
        error,
    }
}

/// Asks before deleting, requiring the public ID to be typed.
pub async fn delete_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    super::html(
        delete_confirm(&admin, &csrf, i, None).render(),
        StatusCode::OK,
    )
}

/// The delete confirmation form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// Deletes the instance and its data once the typed public ID matches.
pub async fn delete_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    form: CsrfForm<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    if form.0.confirm.trim() != i.public_id {
        let error = Some("The public ID does not match; nothing was deleted.".to_owned());
        return super::html(
            delete_confirm(&admin, &csrf, i, error).render(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    // delete = erase: disabled, deliveries in batches, the rest (Teams-side rows of its users
    // too) in one transaction, tombstone in the audit log
    let subject = Subject::Instance {
        public_id: i.public_id.clone(),
    };
    let actor = Actor::Admin(admin.username.clone());
    let report = db::run(&state.pool, move |conn| {
        Ok(lifecycle::erase(
            conn,
            &subject,
            &actor,
            "erase instance",
            |_, _| {},
        ))
    })
    .await?
    .map_err(|e| match e {
        LifecycleError::NotFound(_) => PageError(AppError::not_found("This Jira instance")),
        e => PageError(AppError::internal(e)),
    })?;
    tracing::info!(instance.public_id = %i.public_id, admin.id = %admin.id, erased.rows = report.total(), "Jira instance erased with its data");
    Ok(see_other("/admin/instances?notice=deleted"))
}

/// `GET /admin/instances/{id}/export`: everything stored about the instance, as a JSON
/// download (secrets redacted).
pub async fn instance_export(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let i = load(&state, path.into_inner()).await?;
    super::users::export_download(
        &state,
        &admin,
        Subject::Instance {
            public_id: i.public_id,
        },
    )
    .await
}
