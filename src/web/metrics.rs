//! `GET /metrics` (internal listener only) in the Prometheus text format, and the middleware
//! that counts every request by route *pattern* and status.
//!
//! Authentication: open by default, like `/healthz` — the internal listener is not the public
//! one, and the figures carry no secret or user identifier. With `[metrics] token_file` set it
//! wants `Authorization: Bearer <token>` (compared in constant time) and answers 401 otherwise.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use crate::db;
use crate::db::models::outbox::QueueDepth;
use crate::state::AppState;
use crate::telemetry::metrics::{CONTENT_TYPE, QueueFigures};

/// Counts the request under the route pattern it matched (`/admin/users/{id}`), never the raw
/// path, so ids and tokens in paths never become labels.
pub async fn http_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let method = req.method().clone();
    let started = Instant::now();
    let result = next.call(req).await;
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(res) => state.metrics.http_request(
            method.as_str(),
            res.request().match_pattern().as_deref(),
            res.status().as_u16(),
            secs,
        ),
        Err(e) => state.metrics.http_request(
            method.as_str(),
            None,
            e.as_response_error().status_code().as_u16(),
            secs,
        ),
    }
    result.map(ServiceResponse::map_into_boxed_body)
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(token) = &state.metrics.token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected = token.expose_secret().as_bytes();
        if given.len() != expected.len() || !openssl::memcmp::eq(given.as_bytes(), expected) {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer realm=\"metrics\""))
                .body("metrics: a bearer token is required ([metrics] token_file)\n");
        }
    }
    let queue = db::run(&state.pool, |conn| Ok(QueueDepth::read(conn)?)).await;
    let queue = match queue {
        Ok(q) => Some(QueueFigures {
            pending: q.pending,
            in_flight: q.in_flight,
            dead: q.dead,
            oldest_pending_secs: q.oldest_pending_secs,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the outbox figures");
            None
        }
    };
    let pool = state.pool.state();
    state.metrics.set_scrape_figures(
        queue,
        pool.connections - pool.idle_connections,
        pool.idle_connections,
        state.pool.max_size(),
    );
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.encode())
}
