//! The delivery queue: depth (through the partial indexes of undelivered items), oldest waiting
//! item, failed items with their last error (keyset paged), and retry / discard for them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{Layout, PageQuery, Pager, bad_cursor, see_other};
use crate::db;
use crate::db::keyset::{CursorKey, RowCount};
use crate::db::models::outbox::{OutboxItem, OutboxStats};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken, EmptyForm};

/// A failed item (for good, or waiting for its next try) for display.
pub struct DeadView {
    pub id: i64,
    pub kind: String,
    pub target: String,
    pub attempts: i32,
    pub last_error: String,
    /// When it failed for good, or when it is tried next.
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    layout: Layout,
    stats: OutboxStats,
    oldest: String,
    retrying: Vec<DeadView>,
    dead: Vec<DeadView>,
    /// Pages of the failed deliveries.
    pager: Pager,
}

#[derive(Deserialize)]
pub struct OutboxQuery {
    notice: Option<String>,
    #[serde(flatten)]
    paging: PageQuery,
}

/// The queue page.
pub async fn outbox_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, PageError> {
    let window = q.paging.window()?.decode().map_err(bad_cursor)?;
    let (stats, retrying, dead) = db::run(&state.pool, move |conn| {
        Ok((
            OutboxItem::stats(conn)?,
            OutboxItem::retrying(conn, 100)?,
            OutboxItem::dead_page(conn, &window, super::PAGE_SIZE)?,
        ))
    })
    .await?;
    let pager = Pager::new(
        "/admin/outbox?",
        &dead,
        |d| (d.updated_at, d.id).encode_cursor(),
        RowCount::Exact(stats.dead),
    );
    let oldest = match stats.oldest_pending_secs {
        None => "nothing waiting".to_owned(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{} h", s / 3600),
    };
    let view = |d: OutboxItem, when: chrono::DateTime<chrono::Utc>| DeadView {
        id: d.id,
        target: d
            .payload
            .get("chatId")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_owned(),
        kind: d.kind,
        attempts: d.attempts,
        last_error: d.last_error.unwrap_or_default(),
        at: when.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    };
    let retrying = retrying
        .into_iter()
        .map(|d| {
            let next = d.run_after;
            view(d, next)
        })
        .collect();
    let dead = dead
        .rows
        .into_iter()
        .map(|d| {
            let since = d.updated_at;
            view(d, since)
        })
        .collect();
    let page = OutboxPage {
        layout: Layout::for_admin(&admin, &csrf, super::notice_text(q.notice.as_deref())),
        stats,
        oldest,
        retrying,
        dead,
        pager,
    };
    super::html(page.render(), StatusCode::OK)
}

/// What the admin does with a failed item.
#[derive(Clone, Copy)]
enum DeadAction {
    Retry,
    Discard,
}

async fn act_on_dead(
    state: &AppState,
    admin: &Admin,
    id: i64,
    action: DeadAction,
) -> Result<HttpResponse, PageError> {
    let done = db::run(&state.pool, move |conn| {
        Ok(match action {
            DeadAction::Retry => OutboxItem::retry(conn, id)?,
            DeadAction::Discard => OutboxItem::discard(conn, id)?,
        })
    })
    .await?;
    if !done {
        return Err(PageError(AppError::not_found("This failed delivery")));
    }
    let (what, notice) = match action {
        DeadAction::Retry => ("queued again", "retried"),
        DeadAction::Discard => ("discarded", "discarded"),
    };
    tracing::info!(outbox.id = id, admin.id = %admin.id, "failed delivery {what}");
    Ok(see_other(&format!("/admin/outbox?notice={notice}")))
}

/// Puts a failed item back in the queue.
pub async fn outbox_retry_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    act_on_dead(&state, &admin, path.into_inner(), DeadAction::Retry).await
}

/// Drops a failed item.
pub async fn outbox_discard_submit(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: EmptyForm,
) -> Result<HttpResponse, PageError> {
    act_on_dead(&state, &admin, path.into_inner(), DeadAction::Discard).await
}
