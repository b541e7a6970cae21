//! HTTP: routes of the internal and public listeners, middleware and extractors.

pub mod admin;
pub mod api;
pub mod auth;
pub mod bot;
pub mod health;
pub mod jira;
pub mod metrics;
pub mod middleware;
pub mod not_found;
pub mod session;
pub mod tab;
pub mod webhooks;

use actix_web::web;

/// Routes of the internal listener (admin UI, health; API, webhooks and auth come later).
pub fn internal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/static/app.css", web::get().to(admin::static_css))
        .route(
            "/static/teams-16.png",
            web::get().to(admin::static_teams_icon),
        )
        .configure(admin::routes)
        .configure(api::routes)
        .configure(auth::routes)
        .configure(jira::routes)
        .configure(tab::routes)
        .configure(webhooks::routes);
}

/// Routes of the public listener: only `/bot/messages`.
pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/bot/messages", web::post().to(bot::messages));
}
