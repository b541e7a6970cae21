//! Request errors. `AppError` answers APIs with problem+json (RFC 9457) carrying a stable
//! snake_case `code`; `PageError` answers browsers with an HTML page. 5xx bodies never carry the
//! internal cause: it is logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl AppError {
    /// A 4xx with a stable code and a safe message.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 500 from any error.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Client { code, .. } => code,
            AppError::Internal(_) => "internal",
            AppError::Unavailable(_) => "unavailable",
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(e) => {
                tracing::error!(error.code = "internal", error.cause = %format!("{e:#}"), "request failed")
            }
            AppError::Unavailable(e) => {
                tracing::warn!(error.code = "unavailable", error.cause = %format!("{e:#}"), "dependency unavailable")
            }
            AppError::Client { .. } => {}
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// The problem+json body of every API error (RFC 9457), for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemDoc {
    /// `urn:jira-teams-bridge:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable snake_case error code, e.g. `jwt_expired`.
    pub code: String,
    pub detail: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let detail = match self {
            AppError::Client { message, .. } => message.clone(),
            AppError::Internal(_) => "An internal error occurred; it has been logged.".into(),
            AppError::Unavailable(_) => "A dependency is unavailable; try again shortly.".into(),
        };
        let body = Problem {
            kind: format!("urn:jira-teams-bridge:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code: self.code(),
            detail,
        };
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(body)
    }
}

/// An error answered to a browser as an HTML page.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PageError(#[from] pub AppError);

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let status = self.status_code();
        let message = match &self.0 {
            AppError::Client { message, .. } => message.clone(),
            AppError::Internal(_) => "Something went wrong on our side. The details are in the service log.".into(),
            AppError::Unavailable(_) => "The database is not reachable right now. Try again shortly; `jira-teams-bridge doctor` or the service log tells more.".into(),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
             <h1>{title}</h1><p class=\"error\">{}</p><p><a href=\"/admin\">Back to the dashboard</a></p></main></body></html>",
            html_escape(&message)
        );
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

/// Escapes text for HTML element and attribute content.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
