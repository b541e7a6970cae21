//! The dashboard: version, database status, schema version, key version, the last 24 hours of
//! activity (SVG charts), rows per entity (estimated or capped for big tables).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::Layout;
use crate::db;
use crate::db::keyset::RowCount;
use crate::db::models::inventory::{self, ENTITIES};
use crate::error::PageError;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken};

/// One entity's row count.
pub struct CountRow {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub count: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    db_status: String,
    db_class: &'static str,
    schema_version: String,
    key_version: u32,
    key_path: String,
    uptime: String,
    counts: Vec<CountRow>,
    instances: i64,
    /// Last 24 hours; `None` when the database did not answer.
    activity: Option<Vec<super::activity_chart::Chart>>,
    chart_width: i64,
    chart_height: i64,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// Row counts of every inventory entity: the planner's estimate for a big table ("about N"),
/// a count capped at 10,000 otherwise (exact on a small site), so the page costs the same on
/// an empty database and on a year of a large site.
pub async fn entity_counts(state: &AppState) -> Result<Vec<(&'static str, RowCount)>, db::DbError> {
    db::run(&state.pool, |conn| {
        let mut out = Vec::new();
        for e in ENTITIES {
            out.push((e.key, inventory::count(conn, e.key)?.unwrap_or_default()));
        }
        Ok(out)
    })
    .await
}

/// Rows for the counts table; "unavailable" when the database did not answer.
pub fn count_rows(counts: &Result<Vec<(&'static str, RowCount)>, db::DbError>) -> Vec<CountRow> {
    ENTITIES
        .iter()
        .map(|e| CountRow {
            key: e.key,
            title: e.title,
            description: e.description,
            count: match counts {
                Ok(c) => c
                    .iter()
                    .find(|(k, _)| *k == e.key)
                    .map(|(_, n)| n.shown())
                    .unwrap_or_default(),
                Err(_) => "unavailable".into(),
            },
        })
        .collect()
}

/// The dashboard page.
pub async fn dashboard_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    let counts = entity_counts(&state).await;
    let schema = db::run(&state.pool, |conn| {
        Ok(db::schema_version(conn).ok().flatten())
    })
    .await;
    let (db_status, db_class) = match &counts {
        Ok(_) => ("connected".to_owned(), "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: database unavailable");
            (
                "unreachable — check the service log and `jira-teams-bridge doctor`".to_owned(),
                "bad",
            )
        }
    };
    let instances = counts
        .as_ref()
        .ok()
        .and_then(|c| {
            c.iter()
                .find(|(k, _)| *k == "jira_instance")
                .map(|(_, n)| n.value())
        })
        .unwrap_or(0);
    let activity = super::activity_chart::last_day(&state).await.ok();
    let secs = state.started_at.elapsed().as_secs();
    let page = DashboardPage {
        layout: Layout::for_admin(&admin, &csrf, super::notice_text(q.notice.as_deref())),
        db_status,
        db_class,
        schema_version: schema.ok().flatten().unwrap_or_else(|| "unknown".into()),
        key_version: state.vault.current_version(),
        key_path: state
            .vault
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "in memory".into()),
        uptime: format!("{}h {}m {}s", secs / 3600, (secs / 60) % 60, secs % 60),
        counts: count_rows(&counts),
        instances,
        activity,
        chart_width: super::activity_chart::WIDTH,
        chart_height: super::activity_chart::HEIGHT,
    };
    super::html(page.render(), StatusCode::OK)
}
