//! The data inventory: the seed's tables, live and keyset paged, secrets shortened.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::dashboard::{CountRow, count_rows, entity_counts};
use super::{Layout, PageQuery, Pager, bad_cursor};
use crate::db;
use crate::db::models::inventory::{self, ENTITIES};
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::session::{Admin, CsrfToken};

#[derive(Template, WebTemplate)]
#[template(path = "admin/data_index.html")]
struct DataIndexPage {
    layout: Layout,
    counts: Vec<CountRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/data_table.html")]
struct DataTablePage {
    layout: Layout,
    title: &'static str,
    description: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    pager: Pager,
}

/// Overview with row counts.
pub async fn data_index_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
) -> Result<HttpResponse, PageError> {
    let counts = entity_counts(&state).await;
    if let Err(e) = counts {
        return Err(e.into());
    }
    let page = DataIndexPage {
        layout: Layout::for_admin(&admin, &csrf, None),
        counts: count_rows(&counts),
    };
    super::html(page.render(), StatusCode::OK)
}

/// One entity's rows, keyset paged.
pub async fn data_table_page(
    state: web::Data<AppState>,
    admin: Admin,
    csrf: CsrfToken,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let key = path.into_inner();
    let Some(entity) = ENTITIES.iter().find(|e| e.key == key) else {
        return Err(PageError(AppError::not_found("This entity")));
    };
    let window = q.window()?;
    let k = entity.key;
    let (table, total) = db::run(&state.pool, move |conn| {
        let table = inventory::page(conn, k, &window, super::PAGE_SIZE)?;
        let total = match &table {
            Some(Ok(_)) => inventory::count(conn, k)?,
            _ => None,
        };
        Ok((table, total))
    })
    .await?;
    let table = table
        .ok_or_else(|| PageError(AppError::not_found("This entity")))?
        .map_err(bad_cursor)?;
    let pager = Pager::new(
        &format!("/admin/data/{}?", entity.key),
        &table.page,
        |r| r.cursor.clone(),
        total.unwrap_or_default(),
    );
    let page = DataTablePage {
        layout: Layout::for_admin(&admin, &csrf, None),
        title: entity.title,
        description: entity.description,
        columns: table.columns,
        rows: table.page.rows.into_iter().map(|r| r.cells).collect(),
        pager,
    };
    super::html(page.render(), StatusCode::OK)
}
