//! The Teams app package: `/admin/teams-app` shows what the manifest will say and what is missing;
//! `/admin/teams-app/package.zip` downloads `manifest.json`, `color.png` and `outline.png` (at
//! the root of the zip, as Teams requires). The manifest id is made once and kept; the version
//! goes up exactly when the package's content changes (`db::models::teams_app_package`).

use std::io::Write;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde_json::Value;

use super::Layout;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jsm_portal_app::JsmPortalApp;
use crate::db::models::microsoft_app::MicrosoftApp;
use crate::db::models::teams_app_package::TeamsAppPackage;
use crate::domain::settings::PortalAppSettings;
use crate::domain::teams_manifest::{
    self, COLOR_ICON, Content, OUTLINE_ICON, PortalTab, RegistrationIds, Sources,
};
use crate::error::{AppError, PageError};
use crate::services::connections;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken};

/// The colour icon (192x192) and the outline icon (32x32, white on transparent); made by
/// `templates/teams/make_icons.py`.
pub const COLOR_PNG: &[u8] = include_bytes!("../../../templates/teams/color.png");
pub const OUTLINE_PNG: &[u8] = include_bytes!("../../../templates/teams/outline.png");

/// The package as it stands now.
struct Current {
    /// The manifest, when it could be made and passed the validator.
    manifest: Option<(Value, TeamsAppPackage)>,
    content: Option<Content>,
    /// Sentences saying what is missing or invalid; the package cannot be made while any is.
    problems: Vec<String>,
    /// What had to be left out of an otherwise good package.
    left_out: Vec<String>,
}

/// Reads everything the manifest is made from. No secret is read: the package needs ids only.
async fn sources(state: &AppState) -> Result<(Sources, Vec<String>), AppError> {
    let pinned = connections::pinned_in_config(state);
    let (row, instances, portal_apps) = db::run(&state.pool, |conn| {
        Ok((
            MicrosoftApp::get(conn)?,
            JiraInstance::list(conn)?,
            JsmPortalApp::of_enabled_instances(conn)?,
        ))
    })
    .await?;
    let registration = if pinned {
        let m = &state.settings.microsoft;
        Some(RegistrationIds {
            client_id: m.client_id.clone(),
            bot_app_id: m.bot_app_id.clone(),
        })
    } else {
        row.map(|r| RegistrationIds {
            client_id: r.client_id.to_string(),
            bot_app_id: r.bot_app_id.map(|b| b.to_string()).unwrap_or_default(),
        })
    };
    let mut left_out = Vec::new();
    let mut tabs = Vec::new();
    for app in portal_apps {
        match PortalAppSettings::parse(&app.settings) {
            Ok(s) => tabs.push(PortalTab {
                id: app.id,
                name: s.tab_name,
            }),
            // stored through the API, which checks them; an old or hand-made row is skipped
            Err(e) => left_out.push(format!(
                "The portal app {} gets no tab: its settings are invalid ({e}).",
                app.id
            )),
        }
    }
    Ok((
        Sources {
            registration,
            internal_url: state.internal_url.clone(),
            public_url: state.settings.listen.public_url.clone(),
            jira_base_urls: instances
                .into_iter()
                .filter(|i| i.enabled)
                .map(|i| i.base_url)
                .collect(),
            portal_apps: tabs,
        },
        left_out,
    ))
}

/// Plans, validates and (when everything is there) settles the id and version.
async fn current(state: &AppState) -> Result<Current, AppError> {
    let (src, mut left_out) = sources(state).await?;
    let plan = teams_manifest::plan(&src);
    left_out.extend(plan.left_out);
    let mut problems = plan.missing;
    let Some(content) = plan.content else {
        return Ok(Current {
            manifest: None,
            content: None,
            problems,
            left_out,
        });
    };
    // checked with placeholders first, so an invalid manifest never bumps the version
    let draft = teams_manifest::build(&content, uuid::Uuid::nil(), "0.0.0");
    if let Err(errors) = teams_manifest::validate(&draft) {
        problems.extend(
            errors
                .into_iter()
                .map(|e| format!("The manifest would break a Teams rule: {e}.")),
        );
        return Ok(Current {
            manifest: None,
            content: Some(content),
            problems,
            left_out,
        });
    }
    let fingerprint = teams_manifest::fingerprint(&content, &[COLOR_PNG, OUTLINE_PNG]);
    let row = db::run(&state.pool, move |conn| {
        Ok(TeamsAppPackage::settle(conn, &fingerprint)?)
    })
    .await?;
    let manifest = teams_manifest::build(&content, row.manifest_id, &row.version);
    Ok(Current {
        manifest: Some((manifest, row)),
        content: Some(content),
        problems,
        left_out,
    })
}

/// The stored package version, if a package was ever made.
pub(super) async fn stored_version(state: &AppState) -> Result<Option<String>, AppError> {
    let row = db::run(&state.pool, |conn| Ok(TeamsAppPackage::get(conn)?)).await?;
    Ok(row.map(|r| r.version))
}

/// Settles the package exactly as the Teams app page does (the version goes up when its content
/// changed): the version now, or `None` while the package cannot be made.
pub(super) async fn settled_version(state: &AppState) -> Result<Option<String>, AppError> {
    Ok(current(state).await?.manifest.map(|(_, row)| row.version))
}

struct Tab {
    name: String,
    url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/teams_app.html")]
struct TeamsAppPage {
    layout: Layout,
    ready: bool,
    problems: Vec<String>,
    left_out: Vec<String>,
    manifest_id: String,
    version: String,
    bot_app_id: String,
    client_id: String,
    valid_domains: Vec<String>,
    unfurl_domains: Vec<String>,
    tabs: Vec<Tab>,
    commands: Vec<String>,
}

/// `GET /admin/teams-app`.
pub async fn teams_app_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    let cur = current(&state).await?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut page = TeamsAppPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        ready: cur.manifest.is_some(),
        problems: cur.problems,
        left_out: cur.left_out,
        manifest_id: String::new(),
        version: String::new(),
        bot_app_id: String::new(),
        client_id: String::new(),
        valid_domains: vec![],
        unfurl_domains: vec![],
        tabs: vec![],
        commands: vec![],
    };
    if let Some(c) = &cur.content {
        page.bot_app_id = c.bot_app_id.to_string();
        page.client_id = c.client_id.to_string();
        page.tabs = c
            .portal_apps
            .iter()
            .map(|t| Tab {
                name: t.name.clone(),
                url: format!("{}/teams/portal/{}", c.internal_url, t.id),
            })
            .collect();
    }
    if let Some((m, row)) = &cur.manifest {
        page.manifest_id = row.manifest_id.to_string();
        page.version = row.version.clone();
        page.valid_domains = strings(&m["validDomains"]);
        page.unfurl_domains =
            strings(&m["composeExtensions"][0]["messageHandlers"][0]["value"]["domains"]);
        page.commands = m["bots"][0]["commandLists"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["commands"].as_array().into_iter().flatten())
            .filter_map(|c| c["title"].as_str().map(str::to_owned))
            .collect();
        page.commands.sort();
        page.commands.dedup();
    }
    super::html(page.render(), StatusCode::OK)
}

/// The zip: the three files at the root, deflated, with fixed timestamps (the same package
/// gives the same bytes).
pub fn package_zip(manifest: &Value) -> Result<Vec<u8>, anyhow::Error> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let json = serde_json::to_vec_pretty(manifest)?;
    for (name, bytes) in [
        ("manifest.json", json.as_slice()),
        (COLOR_ICON, COLOR_PNG),
        (OUTLINE_ICON, OUTLINE_PNG),
    ] {
        zip.start_file(name, options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// `GET /admin/teams-app/package.zip`: the package, or a page saying exactly what is missing.
pub async fn teams_app_package(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, PageError> {
    let cur = current(&state).await?;
    let Some((manifest, row)) = cur.manifest else {
        return Err(PageError(AppError::client(
            StatusCode::CONFLICT,
            "teams_app_incomplete",
            format!(
                "The Teams app package cannot be made yet. {} See Admin › Teams app.",
                cur.problems.join(" ")
            ),
        )));
    };
    let bytes = package_zip(&manifest).map_err(AppError::internal)?;
    tracing::info!(
        admin.id = %admin.id,
        package.version = %row.version,
        "Teams app package downloaded"
    );
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"jira-teams-bridge-teams-app-{}.zip\"",
                row.version
            ),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_manifest_zips_to_the_same_bytes() {
        let m = serde_json::json!({"id": "x"});
        let a = package_zip(&m).expect("zips");
        assert_eq!(a, package_zip(&m).expect("zips"));
        assert!(a.starts_with(b"PK\x03\x04"));
    }
}
