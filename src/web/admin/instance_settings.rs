//! Per-instance switches of what the appliance writes into Jira issues
//! (`/admin/instances/{id}/settings`): linked chats shown as remote links (on by default; off
//! where the Jira plugin shows them) and the optional "Teams chat started" comment (off by
//! default). Switching remote links back on queues the remote link of every link of the instance,
//! in bounded batches, in the same transaction as the switch (`services::issue_chats`). The page
//! warns when the appliance is reached over http, since a Jira on https shows no icon from there.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::Connection;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, notice_text, see_other};
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::error::{AppError, PageError};
use crate::services::issue_chats;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken};

#[derive(Template, WebTemplate)]
#[template(path = "admin/instance_settings.html")]
struct SettingsPage {
    layout: Layout,
    id: Uuid,
    base_url: String,
    internal_url: String,
    insecure_icon: bool,
    remote_links: bool,
    remote_link_comment: bool,
}

/// `?notice=` after saving.
#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn not_found() -> PageError {
    PageError(AppError::not_found("This Jira instance"))
}

/// `GET /admin/instances/{id}/settings`.
pub async fn settings_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let i = db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
        .await?
        .ok_or_else(not_found)?;
    let page = SettingsPage {
        layout: Layout::for_admin(&admin, &csrf, notice_text(q.notice.as_deref())),
        id: i.id,
        base_url: i.base_url,
        internal_url: state.internal_url.clone(),
        insecure_icon: !state.internal_url.starts_with("https://"),
        remote_links: i.remote_links,
        remote_link_comment: i.remote_link_comment,
    };
    super::html(page.render(), StatusCode::OK)
}

/// The form: a checkbox is sent (`on`) only when ticked.
#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    remote_links: Option<String>,
    #[serde(default)]
    remote_link_comment: Option<String>,
}

fn ticked(v: &Option<String>) -> bool {
    v.as_deref() == Some("on")
}

/// `POST /admin/instances/{id}/settings`: saves both switches; switching remote links on queues
/// the remote link of every link of the instance.
pub async fn settings_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<Uuid>,
    form: CsrfForm<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let (links, comment) = (
        ticked(&form.0.remote_links),
        ticked(&form.0.remote_link_comment),
    );
    let before = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let Some(before) = JiraInstance::find(conn, id)? else {
                return Ok(None);
            };
            JiraInstance::set_remote_link_switches(conn, id, links, comment)?;
            if links && !before.remote_links {
                issue_chats::queue_remote_link_resync(conn, id, Uuid::new_v4(), None)?;
            }
            Ok(Some(before))
        })?)
    })
    .await?
    .ok_or_else(not_found)?;
    let switched_on = links && !before.remote_links;
    if switched_on {
        state.outbox_wake.notify_one();
    }
    tracing::info!(
        instance.public_id = %before.public_id,
        admin.id = %admin.id,
        remote_links.before = before.remote_links,
        remote_links.after = links,
        remote_link_comment.before = before.remote_link_comment,
        remote_link_comment.after = comment,
        "Jira instance remote-link settings changed"
    );
    let notice = if switched_on {
        "remote_links_on"
    } else if before.remote_links && !links {
        "remote_links_off"
    } else {
        "settings_saved"
    };
    Ok(see_other(&format!(
        "/admin/instances/{id}/settings?notice={notice}"
    )))
}
