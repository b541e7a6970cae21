//! `/healthz` (the process answers) and `/readyz` (database reachable, migrations current,
//! master key loaded), both JSON.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db;
use crate::state::AppState;

/// Liveness: answers while the process runs.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started_at.elapsed().as_secs(),
    }))
}

/// Readiness: 200 only when every dependency is usable, else 503 naming the failing check.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // an explicit round trip: pooled connections are not tested on checkout
    let migrations = db::run(&state.pool, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(db::pending_migrations(conn))
    })
    .await;
    let (database, migrations) = match migrations {
        Ok(Ok(0)) => ("ok".to_owned(), "ok".to_owned()),
        Ok(Ok(n)) => ("ok".to_owned(), format!("{n} pending")),
        Ok(Err(e)) => ("ok".to_owned(), format!("error: {}", short(&e.to_string()))),
        Err(_) => ("unreachable".to_owned(), "unknown".to_owned()),
    };
    let key = if state.vault.self_test() {
        "ok"
    } else {
        "unusable"
    };
    let ready = database == "ok" && migrations == "ok" && key == "ok";
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "database": database, "migrations": migrations, "master_key": key },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}
