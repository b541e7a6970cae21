//! Linked users: every Jira ↔ Microsoft link with its status (linked, or needs sign-in again
//! and why), and unlink (the user's tokens are erased with the link).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, Pager, notice_text, see_other};
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::user_mapping::UserMapping;
use crate::error::PageError;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken, EmptyForm};

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
    page: Option<i64>,
    notice: Option<String>,
}

/// `GET /admin/users`.
pub async fn users_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<UsersQuery>,
) -> Result<HttpResponse, PageError> {
    let (page_no, offset) = Pager::offset(q.page);
    let (rows, total, instances) = db::run(&state.pool, move |conn| {
        Ok((
            UserMapping::page(conn, offset, super::PAGE_SIZE)?,
            UserMapping::count(conn)?,
            JiraInstance::list(conn)?,
        ))
    })
    .await?;
    let names: HashMap<Uuid, String> = instances.into_iter().map(|i| (i.id, i.public_id)).collect();
    let users = rows
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
        pager: Pager::new(page_no, total, "/admin/users?"),
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
