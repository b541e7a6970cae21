//! Linked users: every Jira ↔ Microsoft link with its status (linked, or needs sign-in again
//! and why), unlink (the user's tokens are erased with the link), and export or erase
//! everything stored about a user.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, PageQuery, Pager, bad_cursor, notice_text, see_other};
use crate::db;
use crate::db::keyset::CursorKey;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::lifecycle::{self, EraseReport, LifecycleError, Subject};
use crate::db::models::user_mapping::UserMapping;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

mod download;

struct UserRow {
    id: Uuid,
    instance: String,
    jira_user: String,
    jira_key: String,
    ms_user: String,
    ms_id: String,
    status: String,
    detail: Option<String>,
    since: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    pager: Pager,
}

/// Query of the list.
#[derive(Deserialize)]
pub struct UsersQuery {
    notice: Option<String>,
    #[serde(flatten)]
    paging: PageQuery,
}

/// `GET /admin/users`.
pub async fn users_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<UsersQuery>,
) -> Result<HttpResponse, PageError> {
    let window = q.paging.window()?.decode().map_err(bad_cursor)?;
    let (rows, total, instances) = db::run(&state.pool, move |conn| {
        Ok((
            UserMapping::page(conn, &window, super::PAGE_SIZE)?,
            UserMapping::count(conn)?,
            JiraInstance::list(conn)?,
        ))
    })
    .await?;
    let names: HashMap<Uuid, String> = instances.into_iter().map(|i| (i.id, i.public_id)).collect();
    let pager = Pager::new(
        "/admin/users?",
        &rows,
        |m| (m.updated_at, m.id).encode_cursor(),
        total,
    );
    let users = rows
        .rows
        .into_iter()
        .map(|m| UserRow {
            id: m.id,
            instance: names.get(&m.jira_instance_id).cloned().unwrap_or_default(),
            jira_user: m.jira_user_name.unwrap_or_default(),
            jira_key: m.jira_user_key,
            ms_user: m.ms_user_name.unwrap_or_default(),
            ms_id: m.ms_user_id.to_string(),
            status: m.status,
            detail: m.status_detail,
            since: m.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let page = UsersPage {
        layout: Layout::for_admin(&admin, &csrf, notice_text(q.notice.as_deref())),
        users,
        pager,
    };
    super::html(page.render(), StatusCode::OK)
}

/// `POST /admin/users/{id}/unlink`.
pub async fn unlink_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let removed = db::run(&state.pool, move |conn| {
        Ok(UserMapping::delete_by_id(conn, id)?)
    })
    .await?;
    if removed {
        tracing::info!(admin.id = %admin.id, mapping.id = %id, "user unlinked by an admin; tokens erased");
    }
    Ok(see_other("/admin/users?notice=unlinked"))
}

/// The subject of a linked user's export or erase, by mapping id.
async fn user_subject(state: &AppState, id: Uuid) -> Result<(Subject, String), PageError> {
    let found = db::run(&state.pool, move |conn| {
        let Some(m) = UserMapping::get(conn, id)? else {
            return Ok(None);
        };
        Ok(JiraInstance::find(conn, m.jira_instance_id)?.map(|i| (i.public_id, m.jira_user_key)))
    })
    .await?;
    let (public_id, key) = found.ok_or_else(|| PageError(AppError::not_found("This link")))?;
    Ok((
        Subject::User {
            public_id,
            jira_user_key: key.clone(),
        },
        key,
    ))
}

/// Answers an export as a JSON download, streamed as it is read (see [`download`]); one export
/// at a time: another one running is a 503 with `Retry-After`.
pub(super) async fn export_download(
    state: &AppState,
    admin: &Admin,
    subject: Subject,
) -> Result<HttpResponse, PageError> {
    let name: String = subject
        .label()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut rx = download::start(state.pool.clone(), subject, admin.id);
    let first = match rx.recv().await {
        Some(Ok(first)) => first,
        Some(Err(download::Failed::Export(LifecycleError::NotFound(m)))) => {
            return Err(PageError(AppError::client(
                StatusCode::NOT_FOUND,
                "not_found",
                m,
            )));
        }
        Some(Err(download::Failed::Export(LifecycleError::Busy(m)))) => {
            tracing::info!(admin.id = %admin.id, "data export refused: another one is running");
            let mut res = PageError(AppError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                "export_running",
                m,
            ))
            .error_response();
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("30"),
            );
            return Ok(res);
        }
        Some(Err(e)) => return Err(PageError(AppError::internal(e))),
        None => {
            return Err(PageError(AppError::internal(anyhow::anyhow!(
                "the export ended without a word"
            ))));
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"jira-teams-bridge-export-{name}.json\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(download::Download {
            first: Some(first),
            rx,
        }))
}

/// `GET /admin/users/{id}/export`: everything stored about the user, as a JSON download.
pub async fn user_export(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let (subject, _) = user_subject(&state, path.into_inner()).await?;
    export_download(&state, &admin, subject).await
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user_erase.html")]
struct UserErasePage {
    layout: Layout,
    id: Uuid,
    label: String,
    jira_key: String,
    report: EraseReport,
    error: Option<String>,
}

async fn erase_page(
    state: &AppState,
    admin: &Admin,
    csrf: &CsrfToken,
    id: Uuid,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (subject, jira_key) = user_subject(state, id).await?;
    let s = subject.clone();
    let report = db::run(&state.pool, move |conn| {
        Ok(lifecycle::erase_preview(conn, &s))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = UserErasePage {
        layout: Layout::for_admin(admin, csrf, None),
        id,
        label: subject.label(),
        jira_key,
        report,
        error,
    };
    super::html(page.render(), status)
}

/// `GET /admin/users/{id}/erase`: what erasing would remove, and the confirmation form.
pub async fn user_erase_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    erase_page(&state, &admin, &csrf, path.into_inner(), None).await
}

/// The erase confirmation: the Jira user key, typed.
#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/users/{id}/erase`: erases everything stored about the user once the typed
/// Jira user key matches (one transaction, tombstone in the audit log).
pub async fn user_erase_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    form: CsrfForm<EraseForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let (subject, jira_key) = user_subject(&state, id).await?;
    if form.0.confirm.trim() != jira_key {
        let error = "The Jira user key does not match; nothing was erased.".to_owned();
        return erase_page(&state, &admin, &csrf, id, Some(error)).await;
    }
    let actor = Actor::Admin(admin.username.clone());
    let report = db::run(&state.pool, move |conn| {
        Ok(lifecycle::erase(
            conn,
            &subject,
            &actor,
            "erase user",
            |_, _| {},
        ))
    })
    .await?
    .map_err(|e| PageError(AppError::internal(e)))?;
    tracing::info!(admin.id = %admin.id, mapping.id = %id, erased.rows = report.total(), "user data erased by an admin");
    Ok(see_other("/admin/users?notice=erased"))
}
