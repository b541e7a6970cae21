//! `GET /auth/start?t=`: the link the Jira app hands out (`GET /api/v1/me`) for the calling Jira
//! user, checked and spent before the Microsoft leg starts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::flow::failed;
use super::link;
use super::start_microsoft::begin;
use crate::crypto::random;
use crate::error::PageError;
use crate::state::AppState;
use crate::web::session::CsrfToken;

#[derive(Deserialize)]
pub struct StartQuery {
    t: Option<String>,
}

/// `GET /auth/start?t=`: checks the link, binds the browser, redirects to Microsoft.
pub async fn start(
    state: web::Data<AppState>,
    csrf: CsrfToken,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(t) = q.t.as_deref() else {
        return failed(
            &csrf,
            StatusCode::BAD_REQUEST,
            "The sign-in link is incomplete. Start again from Jira.",
        );
    };
    let claims = match link::verify(&state.vault, t, Utc::now().timestamp()) {
        Ok(c) => c,
        Err(e) => return failed(&csrf, StatusCode::BAD_REQUEST, e.to_string()),
    };
    let start_hash = random::token_hash(t);
    match begin(&state, &csrf, claims.i, Some(claims.u), start_hash, |_| {
        Ok(true)
    })
    .await?
    {
        Some(res) => Ok(res),
        None => failed(
            &csrf,
            StatusCode::CONFLICT,
            "This sign-in link was already used. Start again from Jira to get a new one.",
        ),
    }
}
