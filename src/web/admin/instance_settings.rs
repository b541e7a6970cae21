//! Per-instance switches of what the appliance writes into Jira issues
//! (`/admin/instances/{id}/settings`): linked chats shown as remote links (on by default; off
//! where the Jira plugin shows them) and the optional "Teams chat started" comment (off by
//! default). Switching remote links back on queues the remote link of every link of the instance,
//! in bounded batches, in the same transaction as the switch (`services::issue_chats`). The page
//! warns when the appliance is reached over http, since a Jira on https shows no icon from there.
//! A second form sets the `appearance` setting a Jira plugin reads, checked by the same
//! function as `PUT /api/v1/settings/appearance` (`domain::settings::validate_setting`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::Connection;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, notice_text, see_other};
use crate::db;
use crate::db::models::instance_setting::InstanceSetting;
use crate::db::models::jira_instance::JiraInstance;
use crate::domain::settings::{self, SettingError};
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
    appearance: AppearanceFields,
    view_locations: &'static [(&'static str, &'static str)],
}

/// The appearance form as shown: stored (or default) values, or what was submitted with the
/// errors next to its fields.
struct AppearanceFields {
    view_location: String,
    quick_create_enabled: bool,
    /// Who saved it last (`None` while the default applies).
    updated_by: Option<String>,
    view_location_error: Option<String>,
    quick_create_error: Option<String>,
}

/// The places the Jira app can show its panel, as (value, label).
const VIEW_LOCATIONS: &[(&str, &str)] = &[
    ("issueContent", "In the issue's content"),
    ("issueSidebar", "In the issue's sidebar"),
    ("issueActivity", "In the issue's activity"),
];

/// `?notice=` after saving.
#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn not_found() -> PageError {
    PageError(AppError::not_found("This Jira instance"))
}

/// The stored appearance, or the default.
fn stored_appearance(stored: Option<InstanceSetting>) -> AppearanceFields {
    let (value, updated_by) = match stored {
        Some(s) => (s.value, s.updated_by),
        None => (
            settings::default_setting(APPEARANCE).unwrap_or_default(),
            None,
        ),
    };
    AppearanceFields {
        view_location: value["viewLocation"]
            .as_str()
            .unwrap_or("issueContent")
            .to_owned(),
        quick_create_enabled: value["quickCreateEnabled"].as_bool().unwrap_or(false),
        updated_by,
        view_location_error: None,
        quick_create_error: None,
    }
}

const APPEARANCE: &str = "appearance";

fn render(
    state: &AppState,
    layout: Layout,
    i: JiraInstance,
    appearance: AppearanceFields,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let page = SettingsPage {
        layout,
        id: i.id,
        base_url: i.base_url,
        internal_url: state.internal_url.clone(),
        insecure_icon: !state.internal_url.starts_with("https://"),
        remote_links: i.remote_links,
        remote_link_comment: i.remote_link_comment,
        appearance,
        view_locations: VIEW_LOCATIONS,
    };
    super::html(page.render(), status)
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
    let (i, stored) = db::run(&state.pool, move |conn| {
        let Some(i) = JiraInstance::find(conn, id)? else {
            return Ok(None);
        };
        Ok(Some((i, InstanceSetting::find(conn, id, APPEARANCE)?)))
    })
    .await?
    .ok_or_else(not_found)?;
    let layout = Layout::for_admin(&admin, &csrf, notice_text(q.notice.as_deref()));
    render(&state, layout, i, stored_appearance(stored), StatusCode::OK)
}

/// The appearance form: the select's value as sent, and the checkbox (`on`) only when ticked.
#[derive(Deserialize)]
pub struct AppearanceForm {
    #[serde(default)]
    view_location: String,
    #[serde(default)]
    quick_create_enabled: Option<String>,
}

/// `POST /admin/instances/{id}/settings/appearance`: checks the value exactly as the API does
/// and stores it as `admin:<name>`; a refused value shows the page again (422) with the
/// submitted values and the reason next to the field, and stores nothing.
pub async fn appearance_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<Uuid>,
    form: CsrfForm<AppearanceForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let f = form.0;
    let typed: String = f.view_location.trim().chars().take(64).collect();
    let quick = match f.quick_create_enabled.as_deref() {
        None => Ok(false),
        Some("on") => Ok(true),
        Some(_) => Err("Tick the box or leave it empty.".to_owned()),
    };
    let value = serde_json::json!({
        "viewLocation": typed,
        "quickCreateEnabled": quick.as_ref().copied().unwrap_or(false),
    });
    let checked = settings::validate_setting(APPEARANCE, &value);
    if checked.is_err() || quick.is_err() {
        let i = db::run(&state.pool, move |conn| Ok(JiraInstance::find(conn, id)?))
            .await?
            .ok_or_else(not_found)?;
        let view_location_error = checked.err().map(|e| {
            let why = match e {
                SettingError::Unknown => "unknown setting".to_owned(),
                SettingError::Invalid(why) => why,
            };
            format!("Choose one of the places in the list ({why}).")
        });
        let fields = AppearanceFields {
            view_location: typed,
            quick_create_enabled: f.quick_create_enabled.is_some(),
            updated_by: None,
            view_location_error,
            quick_create_error: quick.err(),
        };
        let layout = Layout::for_admin(&admin, &csrf, None);
        return render(&state, layout, i, fields, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let value = checked.map_err(|e| PageError(AppError::internal(e)))?;
    let by = format!("admin:{}", admin.username);
    let saved = db::run(&state.pool, move |conn| {
        Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
            if JiraInstance::find(conn, id)?.is_none() {
                return Ok(false);
            }
            InstanceSetting::upsert(conn, id, APPEARANCE, &value, &by)?;
            Ok(true)
        })?)
    })
    .await?;
    if !saved {
        return Err(not_found());
    }
    tracing::info!(instance.id = %id, admin.id = %admin.id, "appearance setting saved");
    Ok(see_other(&format!(
        "/admin/instances/{id}/settings?notice=appearance_saved"
    )))
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
