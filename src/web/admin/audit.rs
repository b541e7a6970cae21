//! The secret access audit log: keyset paged newest first, filterable by secret row and kind,
//! its size an estimate (whole log) or a capped count (filtered).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use uuid::Uuid;

use super::{Layout, PageQuery, Pager, bad_cursor};
use crate::db;
use crate::db::keyset::{CursorKey, Page, RowCount};
use crate::db::models::audit::{AuditFilter, AuditRow};
use crate::db::models::secret::ALL_SECRET_COLUMNS;
use crate::db::models::secret_column::JIRA_ADMIN_PAT;
use crate::error::PageError;
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken};

/// One audit row for display.
struct AuditView {
    at: String,
    actor: String,
    kind: String,
    label: String,
    row: String,
    purpose: String,
    outcome: String,
    detail: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<AuditView>,
    pager: Pager,
    kinds: Vec<String>,
    filter_secret: String,
    filter_kind: String,
    filtered: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    secret: Option<String>,
    kind: Option<String>,
    #[serde(flatten)]
    paging: PageQuery,
}

/// The audit page.
pub async fn audit_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let window = q.paging.window()?.decode::<i64>().map_err(bad_cursor)?;
    let secret_text = q.secret.unwrap_or_default().trim().to_owned();
    let kind_text = q.kind.unwrap_or_default();
    let mut error = None;
    let mut filter = AuditFilter::default();
    if !secret_text.is_empty() {
        match Uuid::parse_str(&secret_text) {
            Ok(id) => filter.secret_row = Some(id),
            Err(_) => {
                error = Some("Enter the secret's row id (a GUID) or leave it empty.".to_owned())
            }
        }
    }
    // secrets used but never stored are audited too, so they can be picked as well
    let kinds: Vec<String> = ALL_SECRET_COLUMNS
        .iter()
        .chain([&JIRA_ADMIN_PAT])
        .map(|c| c.kind.to_owned())
        .collect();
    if !kind_text.is_empty() {
        match kinds.iter().find(|k| **k == kind_text) {
            Some(k) => filter.secret_kind = Some(k.clone()),
            None => error = Some("Unknown kind of secret.".to_owned()),
        }
    }
    let f = filter.clone();
    let (rows, total) = if error.is_some() {
        (
            Page {
                rows: Vec::new(),
                has_prev: false,
                has_next: false,
            },
            RowCount::Exact(0),
        )
    } else {
        db::run(&state.pool, move |conn| {
            Ok((
                AuditRow::page(conn, &f, &window, super::PAGE_SIZE)?,
                AuditRow::count(conn, &f)?,
            ))
        })
        .await?
    };
    let base = format!(
        "/admin/audit?secret={}&kind={}&",
        url::form_urlencoded::byte_serialize(secret_text.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(kind_text.as_bytes()).collect::<String>()
    );
    let pager = Pager::new(&base, &rows, |r| r.id.encode_cursor(), total);
    let page = AuditPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        rows: rows
            .rows
            .into_iter()
            .map(|r| AuditView {
                at: r.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
                actor: format!("{}: {}", r.actor_kind, r.actor),
                kind: r.secret_kind,
                label: r.secret_label,
                row: r.secret_row.to_string(),
                purpose: r.purpose,
                outcome: r.outcome,
                detail: r.detail,
            })
            .collect(),
        pager,
        kinds,
        filtered: filter.secret_row.is_some() || filter.secret_kind.is_some(),
        filter_secret: secret_text,
        filter_kind: kind_text,
        error,
    };
    super::html(page.render(), StatusCode::OK)
}
