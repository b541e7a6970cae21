//! JSM portal apps in the admin UI (`/admin/portal-apps`): every instance's portal apps, paged
//! by id (keyset, no count), and add, edit and delete (the form is `portal_app_form`). Each
//! change settles the Teams app package as the Teams app page does (portal apps are its tabs),
//! and the list then says whether its version went up and that the new package needs uploading.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::portal_app_form::{self, Desks, FieldErrors, FormView, Submitted};
use super::teams_app::{settled_version, stored_version};
use super::{Layout, PAGE_SIZE, notice_text, see_other};
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jsm_portal_app::JsmPortalApp;
use crate::domain::settings::PortalAppSettings;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfForm, CsrfToken, EmptyForm};

/// One portal app in the list.
struct PortalAppView {
    id: Uuid,
    base_url: String,
    tab_name: String,
    icon: String,
    desk_ids: String,
    /// False for a stored row the rules refuse (an old or hand-made one): it gets no tab.
    valid: bool,
    updated_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/portal_apps.html")]
struct PortalAppsPage {
    layout: Layout,
    rows: Vec<PortalAppView>,
    next_href: Option<String>,
    paged: bool,
    no_instances: bool,
    package_notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/portal_app_missing.html")]
struct PortalAppMissingPage {
    layout: Layout,
}

/// `?after=` (the last id of the previous page) and the notices after a change.
#[derive(Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    notice: Option<String>,
    package: Option<String>,
}

/// The package sentence after a change; the version is read from the database, never the URL.
fn package_text(key: Option<&str>, version: Option<String>) -> Option<String> {
    match (key?, version) {
        ("bumped", Some(v)) => Some(format!(
            "The Teams app package is now version {v}: download it from Teams app and upload it in the Teams admin center."
        )),
        ("same", Some(v)) => Some(format!(
            "The Teams app package is unchanged (version {v}): nothing to upload."
        )),
        ("incomplete", _) => Some(
            "The Teams app package cannot be made yet (see Teams app for what is missing); it will carry this change once it can."
                .to_owned(),
        ),
        _ => None,
    }
}

/// `GET /admin/portal-apps`.
pub async fn portal_apps_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let after = q.after.as_deref().and_then(|a| Uuid::parse_str(a).ok());
    let (rows, instances) = db::run(&state.pool, move |conn| {
        Ok((
            JsmPortalApp::page_all(conn, after, PAGE_SIZE + 1)?,
            JiraInstance::list(conn)?.len(),
        ))
    })
    .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let rows: Vec<PortalAppView> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|r| {
            let parsed = PortalAppSettings::parse(&r.app.settings);
            let text = |k: &str| r.app.settings[k].as_str().unwrap_or_default().to_owned();
            let desks = r.app.settings["deskIds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            PortalAppView {
                id: r.app.id,
                base_url: r.base_url,
                tab_name: text("tabName"),
                icon: text("icon"),
                desk_ids: desks,
                valid: parsed.is_ok(),
                updated_at: r.app.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        })
        .collect();
    let next_href = (more)
        .then(|| {
            rows.last()
                .map(|r| format!("/admin/portal-apps?after={}", r.id))
        })
        .flatten();
    let package_notice = match q.package.as_deref() {
        Some(_) => package_text(q.package.as_deref(), stored_version(&state).await?),
        None => None,
    };
    let page = PortalAppsPage {
        layout: Layout::for_admin(&admin, &csrf, notice_text(q.notice.as_deref())),
        rows,
        next_href,
        paged: after.is_some(),
        no_instances: instances == 0,
        package_notice,
    };
    super::html(page.render(), StatusCode::OK)
}

fn missing(admin: &Admin, csrf: &CsrfToken) -> Result<HttpResponse, PageError> {
    let page = PortalAppMissingPage {
        layout: Layout::for_admin(admin, csrf, None),
    };
    super::html(page.render(), StatusCode::NOT_FOUND)
}

/// Settles the package after a change and goes back to the list with both notices.
async fn changed(state: &AppState, notice: &str) -> Result<HttpResponse, PageError> {
    let before = stored_version(state).await?;
    let package = match settled_version(state).await? {
        None => "incomplete",
        Some(v) if Some(&v) != before.as_ref() => "bumped",
        Some(_) => "same",
    };
    Ok(see_other(&format!(
        "/admin/portal-apps?notice={notice}&package={package}"
    )))
}

/// `?instance=` of the add form.
#[derive(Deserialize)]
pub struct NewQuery {
    instance: Option<String>,
}

async fn instances(state: &AppState) -> Result<Vec<JiraInstance>, AppError> {
    Ok(db::run(&state.pool, |conn| Ok(JiraInstance::list(conn)?)).await?)
}

fn chosen<'a>(all: &'a [JiraInstance], raw: &str) -> Option<&'a JiraInstance> {
    let id = Uuid::parse_str(raw.trim()).ok()?;
    all.iter().find(|i| i.id == id)
}

/// `GET /admin/portal-apps/new[?instance=<id>]`.
pub async fn new_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    let all = instances(&state).await?;
    let instance = match q.instance.as_deref() {
        Some(raw) => chosen(&all, raw),
        None => all.first(),
    };
    let desks = match instance {
        Some(i) => {
            let back = format!("/admin/portal-apps/new?instance={}", i.id);
            portal_app_form::desks_for(&state, &req, i, &back).await?
        }
        None => Desks::Typed {
            sign_in: None,
            note: None,
        },
    };
    let submitted = Submitted {
        instance: instance.map(|i| i.id.to_string()).unwrap_or_default(),
        icon: "icon1".to_owned(),
        ..Submitted::default()
    };
    let view = FormView {
        heading: "Add a JSM portal app",
        action: "/admin/portal-apps".to_owned(),
        editing: None,
        instances: &all,
        instance,
        submitted,
        desks,
        errors: FieldErrors::default(),
    };
    portal_app_form::render(Layout::for_admin(&admin, &csrf, None), view)
}

/// `POST /admin/portal-apps`: adds a portal app with a new id, or shows the form again (422)
/// with a message next to each refused field and nothing stored.
pub async fn create_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: Admin,
    csrf: CsrfToken,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let sub = Submitted::from_pairs(form.0);
    let all = instances(&state).await?;
    let instance = chosen(&all, &sub.instance);
    let desks = match instance {
        Some(i) => {
            let back = format!("/admin/portal-apps/new?instance={}", i.id);
            portal_app_form::desks_for(&state, &req, i, &back).await?
        }
        None => Desks::Typed {
            sign_in: None,
            note: None,
        },
    };
    let checked = portal_app_form::check(&sub, &desks, &[]);
    let (Some(i), Ok(settings)) = (instance, &checked) else {
        let mut errors = checked.err().unwrap_or_default();
        if instance.is_none() {
            errors.instance = Some("Choose a Jira instance from the list.".to_owned());
        }
        let view = FormView {
            heading: "Add a JSM portal app",
            action: "/admin/portal-apps".to_owned(),
            editing: None,
            instances: &all,
            instance,
            submitted: sub,
            desks,
            errors,
        };
        return portal_app_form::render(Layout::for_admin(&admin, &csrf, None), view);
    };
    let value = serde_json::to_value(settings).map_err(AppError::internal)?;
    let (instance_id, id) = (i.id, Uuid::new_v4());
    let stored = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::upsert(conn, instance_id, id, &value)?)
    })
    .await?;
    if stored.is_none() {
        return Err(PageError(AppError::internal(anyhow::anyhow!(
            "a new portal app id was taken"
        ))));
    }
    tracing::info!(instance.public_id = %i.public_id, portal_app.id = %id, admin.id = %admin.id, "JSM portal app added");
    changed(&state, "portal_app_added").await
}

async fn load(
    state: &AppState,
    raw: &str,
) -> Result<Option<(JsmPortalApp, JiraInstance)>, AppError> {
    let Ok(id) = Uuid::parse_str(raw) else {
        return Ok(None);
    };
    Ok(db::run(&state.pool, move |conn| {
        let Some(app) = JsmPortalApp::get(conn, id)? else {
            return Ok(None);
        };
        Ok(JiraInstance::find(conn, app.jira_instance_id)?.map(|i| (app, i)))
    })
    .await?)
}

/// `GET /admin/portal-apps/{id}/edit`.
pub async fn edit_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Some((app, i)) = load(&state, &path).await? else {
        return missing(&admin, &csrf);
    };
    let back = format!("/admin/portal-apps/{}/edit", app.id);
    let desks = portal_app_form::desks_for(&state, &req, &i, &back).await?;
    let submitted = match PortalAppSettings::parse(&app.settings) {
        Ok(s) => Submitted::from_settings(
            i.id,
            &s,
            match &desks {
                Desks::Listed { desks, .. } => Some(desks),
                Desks::Typed { .. } => None,
            },
        ),
        // a stored row the rules refuse: show what can be read of it, to be corrected
        Err(_) => Submitted {
            instance: i.id.to_string(),
            tab_name: app.settings["tabName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            icon: app.settings["icon"].as_str().unwrap_or_default().to_owned(),
            ..Submitted::default()
        },
    };
    let view = FormView {
        heading: "Edit a JSM portal app",
        action: format!("/admin/portal-apps/{}/edit", app.id),
        editing: Some(app.id),
        instances: std::slice::from_ref(&i),
        instance: Some(&i),
        submitted,
        desks,
        errors: FieldErrors::default(),
    };
    portal_app_form::render(Layout::for_admin(&admin, &csrf, None), view)
}

/// `POST /admin/portal-apps/{id}/edit`: replaces the settings (the instance stays), or shows
/// the form again (422) with the messages and nothing stored.
pub async fn update_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let Some((app, i)) = load(&state, &path).await? else {
        return missing(&admin, &csrf);
    };
    let mut sub = Submitted::from_pairs(form.0);
    sub.instance = i.id.to_string();
    let back = format!("/admin/portal-apps/{}/edit", app.id);
    let desks = portal_app_form::desks_for(&state, &req, &i, &back).await?;
    let kept: Vec<String> = PortalAppSettings::parse(&app.settings)
        .map(|s| s.desk_ids)
        .unwrap_or_default();
    let settings = match portal_app_form::check(&sub, &desks, &kept) {
        Ok(s) => s,
        Err(errors) => {
            let view = FormView {
                heading: "Edit a JSM portal app",
                action: back,
                editing: Some(app.id),
                instances: std::slice::from_ref(&i),
                instance: Some(&i),
                submitted: sub,
                desks,
                errors,
            };
            return portal_app_form::render(Layout::for_admin(&admin, &csrf, None), view);
        }
    };
    let value = serde_json::to_value(settings).map_err(AppError::internal)?;
    let id = app.id;
    let updated = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::update(conn, id, &value)?)
    })
    .await?;
    if updated.is_none() {
        return missing(&admin, &csrf);
    }
    tracing::info!(instance.public_id = %i.public_id, portal_app.id = %id, admin.id = %admin.id, "JSM portal app changed");
    changed(&state, "portal_app_saved").await
}

/// `POST /admin/portal-apps/{id}/delete`.
pub async fn delete_submit(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<String>,
    _form: EmptyForm,
) -> Result<HttpResponse, PageError> {
    let Some((app, i)) = load(&state, &path).await? else {
        return missing(&admin, &csrf);
    };
    let (instance_id, id) = (i.id, app.id);
    let deleted = db::run(&state.pool, move |conn| {
        Ok(JsmPortalApp::delete(conn, instance_id, id)?)
    })
    .await?;
    if !deleted {
        return missing(&admin, &csrf);
    }
    tracing::info!(instance.public_id = %i.public_id, portal_app.id = %id, admin.id = %admin.id, "JSM portal app deleted");
    changed(&state, "portal_app_deleted").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_sentence_comes_from_a_fixed_key_and_the_stored_version() {
        assert_eq!(
            package_text(Some("bumped"), Some("1.0.3".into())).unwrap(),
            "The Teams app package is now version 1.0.3: download it from Teams app and upload it in the Teams admin center."
        );
        assert!(package_text(Some("<script>"), Some("1.0.3".into())).is_none());
        assert!(package_text(Some("bumped"), None).is_none());
        assert!(package_text(None, Some("1.0.3".into())).is_none());
    }
}
