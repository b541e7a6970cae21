//! A fake Entra ID token endpoint: client credentials only, tenant authority required
//! (`/common` refused with AADSTS9001023), scope `<resource>/.default`, secret checked
//! (AADSTS7000215), short configurable `expires_in`, calls counted.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

/// The registered app the fake knows.
pub const CLIENT_ID: &str = "0e3419f7-4c4d-47e7-b98a-7b9b9de02b80";
/// Its secret.
pub const CLIENT_SECRET: &str = "fake~client~secret~value";

/// State of the fake.
#[derive(Default)]
pub struct Entra {
    pub token_calls: AtomicUsize,
    pub expires_in: AtomicU64,
    pub last_form: Mutex<Vec<(String, String)>>,
}

fn error(status: u16, error: &str, code: u64) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "error": error,
        "error_description": format!("AADSTS{code}: fake description.\r\nTrace ID: 00000000-0000-0000-0000-000000000000"),
        "error_codes": [code],
        "timestamp": "2026-11-25 10:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    }))
}

async fn token(
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    fake: web::Data<Entra>,
) -> HttpResponse {
    fake.token_calls.fetch_add(1, Ordering::SeqCst);
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    *fake.last_form.lock().unwrap() = form.0.clone();
    let tenant = path.into_inner();
    if matches!(tenant.as_str(), "common" | "consumers") {
        return error(400, "invalid_request", 9001023);
    }
    if get("grant_type") != "client_credentials" {
        return error(400, "unsupported_grant_type", 70003);
    }
    if get("client_id") != CLIENT_ID {
        return error(400, "unauthorized_client", 700016);
    }
    if get("client_secret") != CLIENT_SECRET {
        return error(401, "invalid_client", 7000215);
    }
    if !get("scope").ends_with("/.default") {
        return error(400, "invalid_scope", 1002012);
    }
    let n = fake.token_calls.load(Ordering::SeqCst);
    HttpResponse::Ok().json(json!({
        "token_type": "Bearer",
        "expires_in": fake.expires_in.load(Ordering::SeqCst),
        "ext_expires_in": 3599,
        "access_token": format!("eyJ0eXAiOiJKV1QifQ.fake-app-token-{n}.sig"),
    }))
}

/// Starts the fake on a loopback port; tokens live `expires_in` seconds.
pub fn start(expires_in: u64) -> (SocketAddr, web::Data<Entra>) {
    let fake = web::Data::new(Entra {
        expires_in: AtomicU64::new(expires_in),
        ..Default::default()
    });
    let f = fake.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(f.clone())
            .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (addr, fake)
}
