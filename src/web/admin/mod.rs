//! The browser UI: first-run setup, sign-in, dashboard, Jira instances, data inventory, audit.

mod activity_chart;
mod audit;
mod dashboard;
mod data;
mod instance_settings;
mod instances;
mod instances_overview;
mod login;
mod microsoft;
mod oauth;
mod outbox;
mod pager;
mod portal_app_form;
mod portal_apps;
mod setup;
mod teams_app;
mod users;
mod webhook;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::error::{AppError, PageError};
pub use pager::{PageQuery, Pager, bad_cursor};

use crate::web::session::{Admin, CsrfToken};

/// Admin UI routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/setup", web::get().to(setup::setup_page))
        .route("/setup", web::post().to(setup::setup_submit))
        .route("/login", web::get().to(login::login_page))
        .route("/login", web::post().to(login::login_submit))
        .route("/logout", web::post().to(login::logout_submit))
        .route("/admin", web::get().to(dashboard::dashboard_page))
        .route("/admin/instances", web::get().to(instances::instances_page))
        .route(
            "/admin/instances",
            web::post().to(instances::instance_create_submit),
        )
        .route(
            "/admin/instances/{id}/regenerate",
            web::get().to(instances::regenerate_page),
        )
        .route(
            "/admin/instances/{id}/regenerate",
            web::post().to(instances::regenerate_submit),
        )
        .route(
            "/admin/instances/{id}/enable",
            web::post().to(instances::enable_submit),
        )
        .route(
            "/admin/instances/{id}/disable",
            web::post().to(instances::disable_submit),
        )
        .route(
            "/admin/instances/{id}/delete",
            web::get().to(instances::delete_page),
        )
        .route(
            "/admin/instances/{id}/delete",
            web::post().to(instances::delete_submit),
        )
        .route(
            "/admin/instances/{id}/settings",
            web::get().to(instance_settings::settings_page),
        )
        .route(
            "/admin/instances/{id}/settings",
            web::post().to(instance_settings::settings_submit),
        )
        .route(
            "/admin/instances/{id}/settings/appearance",
            web::post().to(instance_settings::appearance_submit),
        )
        .route(
            "/admin/instances/{id}/webhook",
            web::get().to(webhook::webhook_page),
        )
        .route(
            "/admin/instances/{id}/webhook/secret",
            web::post().to(webhook::webhook_secret_submit),
        )
        .route(
            "/admin/instances/{id}/webhook/secret/remove",
            web::post().to(webhook::webhook_secret_remove_submit),
        )
        .route(
            "/admin/instances/{id}/webhook/token",
            web::post().to(webhook::webhook_token_submit),
        )
        .route(
            "/admin/instances/{id}/webhook/register",
            web::post().to(webhook::webhook_register_submit),
        )
        .route("/admin/outbox", web::get().to(outbox::outbox_page))
        .route(
            "/admin/outbox/{id}/retry",
            web::post().to(outbox::outbox_retry_submit),
        )
        .route(
            "/admin/outbox/{id}/discard",
            web::post().to(outbox::outbox_discard_submit),
        )
        .route("/admin/data", web::get().to(data::data_index_page))
        .route("/admin/data/{entity}", web::get().to(data::data_table_page))
        .route("/admin/audit", web::get().to(audit::audit_page))
        .route("/admin/microsoft", web::get().to(microsoft::microsoft_page))
        .route(
            "/admin/microsoft",
            web::post().to(microsoft::microsoft_submit),
        )
        .route(
            "/admin/microsoft/test",
            web::post().to(microsoft::microsoft_test_submit),
        )
        .route(
            "/admin/instances/{id}/oauth",
            web::get().to(oauth::oauth_page),
        )
        .route(
            "/admin/instances/{id}/oauth",
            web::post().to(oauth::oauth_submit),
        )
        .route(
            "/admin/instances/{id}/oauth/test",
            web::post().to(oauth::oauth_test_submit),
        )
        .route(
            "/admin/instances/{id}/oauth/remove",
            web::post().to(oauth::oauth_remove_submit),
        )
        .route("/admin/users", web::get().to(users::users_page))
        .route(
            "/admin/users/{id}/unlink",
            web::post().to(users::unlink_submit),
        )
        .route(
            "/admin/users/{id}/export",
            web::get().to(users::user_export),
        )
        .route(
            "/admin/users/{id}/erase",
            web::get().to(users::user_erase_page),
        )
        .route(
            "/admin/users/{id}/erase",
            web::post().to(users::user_erase_submit),
        )
        .route(
            "/admin/instances/{id}/export",
            web::get().to(instances::instance_export),
        )
        .route(
            "/admin/portal-apps",
            web::get().to(portal_apps::portal_apps_page),
        )
        .route(
            "/admin/portal-apps",
            web::post().to(portal_apps::create_submit),
        )
        .route(
            "/admin/portal-apps/new",
            web::get().to(portal_apps::new_page),
        )
        .route(
            "/admin/portal-apps/{id}/edit",
            web::get().to(portal_apps::edit_page),
        )
        .route(
            "/admin/portal-apps/{id}/edit",
            web::post().to(portal_apps::update_submit),
        )
        .route(
            "/admin/portal-apps/{id}/delete",
            web::post().to(portal_apps::delete_submit),
        )
        .route("/admin/teams-app", web::get().to(teams_app::teams_app_page))
        .route(
            "/admin/teams-app/package.zip",
            web::get().to(teams_app::teams_app_package),
        );
}

async fn root() -> HttpResponse {
    see_other("/admin")
}

/// The stylesheet, compiled in.
pub async fn static_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../templates/static/app.css"))
}

/// The 16×16 Teams icon of the remote links in Jira issues, compiled in. Jira's issue view loads
/// it from its own origin, without a session, so it may be embedded cross-origin.
pub async fn static_teams_icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .body(&include_bytes!("../../../templates/static/teams-16.png")[..])
}

/// An HTML response from a rendered template.
pub fn html(
    rendered: Result<String, askama::Error>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let body = rendered.map_err(|e| PageError(AppError::internal(e)))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A 303 redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}

/// What the shared layout needs.
pub struct Layout {
    pub csrf: String,
    pub admin: Option<String>,
    /// The Jira user signed in on a page for Jira users (`/jira/…`).
    pub jira: Option<JiraNav>,
    pub notice: Option<&'static str>,
    pub version: &'static str,
}

/// Who is signed in with Jira on a page for Jira users, for the header (their account page and
/// *Sign out*).
pub struct JiraNav {
    pub public_id: String,
    pub user_name: String,
}

impl Layout {
    /// Layout for a signed-in admin.
    pub fn for_admin(admin: &Admin, csrf: &CsrfToken, notice: Option<&'static str>) -> Layout {
        Layout {
            csrf: csrf.0.clone(),
            admin: Some(admin.username.clone()),
            jira: None,
            notice,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// Layout for a page without a session.
    pub fn anonymous(csrf: &CsrfToken) -> Layout {
        Layout {
            csrf: csrf.0.clone(),
            admin: None,
            jira: None,
            notice: None,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Fixed notices shown after a redirect (`?notice=`); unknown values show nothing, so no text
/// from the URL ever reaches the page.
pub fn notice_text(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "disabled" => {
            Some("The instance is disabled: its requests are refused until it is enabled again.")
        }
        "enabled" => Some("The instance is enabled."),
        "deleted" => {
            Some("The instance and all its data were erased; a tombstone is in the audit log.")
        }
        "erased" => {
            Some("Everything stored about the user was erased; a tombstone is in the audit log.")
        }
        "welcome" => Some("Setup is complete. Register your first Jira instance below."),
        "signed_in" => Some("Signed in."),
        "retried" => Some("The delivery is queued again."),
        "discarded" => Some("The failed delivery was discarded."),
        "unlinked" => Some("The link was removed and the user's tokens erased."),
        "settings_saved" => Some("The settings are saved."),
        "portal_app_added" => Some("The portal app is added."),
        "portal_app_saved" => Some("The portal app is saved."),
        "portal_app_deleted" => Some("The portal app is deleted: its tab leaves the Teams app."),
        "appearance_saved" => {
            Some("The appearance is saved: the Jira plugin reads it from its next page on.")
        }
        "remote_links_on" => Some(
            "The settings are saved. The remote link of every chat linked in this instance is being written to Jira.",
        ),
        "remote_links_off" => Some(
            "The settings are saved. Chats linked from now on are not shown in Jira; remote links written before stay.",
        ),
        _ => None,
    }
}

/// Rows per page in admin tables.
pub const PAGE_SIZE: i64 = 50;
