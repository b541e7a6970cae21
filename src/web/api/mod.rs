//! `/api/v1`: the JSON API the Jira DC app calls for its signed-in user, authenticated with the
//! instance's HS256 JWT (see [`auth`]).

pub mod auth;
mod me;

use actix_web::web;

/// API routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/me", web::get().to(me::get_me))
            .route("/me", web::delete().to(me::delete_me)),
    );
}
