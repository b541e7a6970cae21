//! Page links of the admin lists, over keyset pages (`db::keyset`). Every list takes
//! `after=<cursor>` (the next page), `before=<cursor>` (the previous page) and `at=last` (the
//! last page, shown in the same order as the others); no parameter is the first page, and an
//! old `page=N` link shows the first page. A cursor this list did not hand out is a 400.

use actix_web::http::StatusCode;
use serde::Deserialize;

use crate::db::keyset::{BadCursor, Page, RowCount, Window};
use crate::error::{AppError, PageError};

/// The paging parameters of a list's address.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    after: Option<String>,
    before: Option<String>,
    at: Option<String>,
}

impl PageQuery {
    /// The page asked for; two at once, or an unknown `at`, is a 400.
    pub fn window(&self) -> Result<Window<String>, PageError> {
        let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        let at = given(&self.at);
        match (given(&self.after), given(&self.before), at.as_deref()) {
            (None, None, None | Some("first")) => Ok(Window::First),
            (None, None, Some("last")) => Ok(Window::Last),
            (Some(c), None, None) => Ok(Window::After(c)),
            (None, Some(c), None) => Ok(Window::Before(c)),
            _ => Err(bad_request(
                "This page link is not valid: use one of after=, before= or at=last.",
            )),
        }
    }
}

fn bad_request(message: &str) -> PageError {
    PageError(AppError::client(
        StatusCode::BAD_REQUEST,
        "invalid_page",
        message,
    ))
}

/// The 400 of a cursor this list did not hand out.
pub fn bad_cursor(_: BadCursor) -> PageError {
    bad_request(
        "This page link is not valid (its after= or before= value was not made by this list). Open the list's first page again.",
    )
}

/// Links of one page of a list and the list's size.
pub struct Pager {
    pub first_href: String,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    pub last_href: String,
    /// More than one page: the links are shown.
    pub paged: bool,
    /// "1 row", "12 rows", "10,000+ rows", "about 9,900,000 rows".
    pub total: String,
}

impl Pager {
    /// Links for `page` (rows in display order, `cursor` gives a row's), keeping the other
    /// query parameters: `base` ends with `?` or `&`.
    pub fn new<T>(
        base: &str,
        page: &Page<T>,
        cursor: impl Fn(&T) -> String,
        total: RowCount,
    ) -> Pager {
        let prev_href = match (page.has_prev, page.rows.first()) {
            (true, Some(r)) => Some(format!("{base}before={}", cursor(r))),
            _ => None,
        };
        let next_href = match (page.has_next, page.rows.last()) {
            (true, Some(r)) => Some(format!("{base}after={}", cursor(r))),
            _ => None,
        };
        let rows = if total == RowCount::Exact(1) {
            "row"
        } else {
            "rows"
        };
        Pager {
            first_href: base.trim_end_matches(['?', '&']).to_owned(),
            paged: prev_href.is_some() || next_href.is_some(),
            prev_href,
            next_href,
            last_href: format!("{base}at=last"),
            total: format!("{} {rows}", total.shown()),
        }
    }
}
