//! The outbound HTTP stack against loopback doubles: Retry-After, a proxy with credentials and
//! no_proxy, and a private CA.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jira_teams_bridge::clients::http::{OutboundHttp, RetryPolicy};
use jira_teams_bridge::config::OutboundSettings;

#[derive(Default)]
struct Seen {
    at: Mutex<Vec<Instant>>,
    proxied: Mutex<Vec<(String, Option<String>)>>,
}

/// A Graph-like double: the first two calls are throttled (429 + Retry-After: 1), then 200.
async fn throttled(seen: web::Data<Seen>) -> HttpResponse {
    let mut at = seen.at.lock().unwrap();
    at.push(Instant::now());
    if at.len() <= 2 {
        HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "1"))
            .finish()
    } else {
        HttpResponse::Ok().body("ok")
    }
}

async fn long_throttle() -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("Retry-After", "3600"))
        .finish()
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok().body("hello")
}

/// A forward proxy for plain-http targets: records what it was asked and relays.
async fn proxy(req: HttpRequest, seen: web::Data<Seen>) -> HttpResponse {
    let auth = req
        .headers()
        .get("proxy-authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    let target = req.uri().to_string();
    seen.proxied.lock().unwrap().push((target.clone(), auth));
    let body = reqwest::get(&target).await.unwrap().text().await.unwrap();
    HttpResponse::Ok().body(format!("via proxy: {body}"))
}

fn serve(seen: web::Data<Seen>) -> SocketAddr {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(seen.clone())
            .route("/throttled", web::get().to(throttled))
            .route("/long", web::get().to(long_throttle))
            .route("/hello", web::get().to(hello))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}

fn settings() -> OutboundSettings {
    OutboundSettings {
        connect_timeout_secs: 2,
        timeout_secs: 5,
        ..Default::default()
    }
}

#[actix_web::test]
async fn throttled_calls_wait_for_retry_after_and_then_succeed() {
    let seen = web::Data::new(Seen::default());
    let addr = serve(seen.clone());
    let http = OutboundHttp::from_settings(&settings(), RetryPolicy::default()).unwrap();
    let res = http
        .send("graph", |c| c.get(format!("http://{addr}/throttled")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let at = seen.at.lock().unwrap();
    assert_eq!(at.len(), 3);
    for w in at.windows(2) {
        assert!(
            w[1].duration_since(w[0]) >= Duration::from_millis(990),
            "a request came before its Retry-After"
        );
    }
}

#[actix_web::test]
async fn a_retry_after_too_long_to_wait_goes_back_to_the_caller() {
    let seen = web::Data::new(Seen::default());
    let addr = serve(seen);
    let http = OutboundHttp::from_settings(&settings(), RetryPolicy::default()).unwrap();
    let started = Instant::now();
    let res = http
        .send("graph", |c| c.get(format!("http://{addr}/long")))
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(
        jira_teams_bridge::clients::http::retry_after(&res),
        Some(Duration::from_secs(3600))
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not sleep an hour"
    );
}

#[actix_web::test]
async fn the_corporate_proxy_is_used_with_its_credentials_except_for_no_proxy_hosts() {
    let proxy_seen = web::Data::new(Seen::default());
    // the proxy is an app of its own: every request, whatever its path, is relayed
    let ps = proxy_seen.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(ps.clone())
            .default_service(web::to(proxy))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let proxy_addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    let target = serve(web::Data::new(Seen::default()));
    let mut s = settings();
    s.proxy = Some(secrecy::SecretString::from(format!(
        "http://corp:s3cret@{proxy_addr}"
    )));
    let http = OutboundHttp::from_settings(&s, RetryPolicy::default()).unwrap();
    let body = http
        .send("jira", |c| c.get(format!("http://{target}/hello")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "via proxy: hello");
    {
        let proxied = proxy_seen.proxied.lock().unwrap();
        assert_eq!(proxied.len(), 1);
        assert_eq!(proxied[0].0, format!("http://{target}/hello"));
        use base64::Engine;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("corp:s3cret")
        );
        assert_eq!(proxied[0].1.as_deref(), Some(expected.as_str()));
    }
    s.no_proxy = "127.0.0.1".into();
    let direct = OutboundHttp::from_settings(&s, RetryPolicy::default()).unwrap();
    let body = direct
        .send("jira", |c| c.get(format!("http://{target}/hello")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello", "no_proxy hosts are reached directly");
    assert_eq!(proxy_seen.proxied.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_unreachable_service_is_reported_without_the_url() {
    let http = OutboundHttp::from_settings(&settings(), RetryPolicy::default()).unwrap();
    let err = http
        .send("graph", |c| {
            c.get("http://127.0.0.1:1/chats?access_token=SECRET123")
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("graph is unreachable"), "{text}");
    assert!(!text.contains("SECRET123"), "{text}");
}

#[actix_web::test]
async fn a_private_ca_is_trusted_only_when_configured() {
    let dir = crate::support::app::TempDir::new();
    let (cert, key, pem) = crate::support::tls::self_signed(&dir.0);
    let tls = jira_teams_bridge::config::load_tls(&cert, &key).unwrap();
    let server = HttpServer::new(|| App::new().route("/hello", web::get().to(hello)))
        .workers(1)
        .bind_rustls_0_23("127.0.0.1:0", tls)
        .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    let url = format!("https://localhost:{}/hello", addr.port());
    let plain = OutboundHttp::from_settings(&settings(), RetryPolicy::default()).unwrap();
    let err = plain.send("jira", |c| c.get(&url)).await.unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
    let ca = dir.0.join("corp-ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let mut s = settings();
    s.ca_file = ca.display().to_string();
    let trusting = OutboundHttp::from_settings(&s, RetryPolicy::default()).unwrap();
    assert_eq!(
        trusting
            .send("jira", |c| c.get(&url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello"
    );
}

#[derive(Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

/// A slow Graph page: counts how many requests are in flight at once.
async fn slow_page(flight: web::Data<InFlight>) -> HttpResponse {
    use std::sync::atomic::Ordering;
    let n = flight.now.fetch_add(1, Ordering::SeqCst) + 1;
    flight.max.fetch_max(n, Ordering::SeqCst);
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    flight.now.fetch_sub(1, Ordering::SeqCst);
    HttpResponse::Ok().json(serde_json::json!({"value": []}))
}

#[actix_web::test]
async fn graph_calls_for_one_tenant_never_exceed_the_concurrency_limit() {
    use jira_teams_bridge::clients::graph::GraphClient;
    let flight = web::Data::new(InFlight::default());
    let f = flight.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(f.clone())
            .default_service(web::to(slow_page))
    })
    .workers(2)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    let http = OutboundHttp::from_settings(&settings(), RetryPolicy::default()).unwrap();
    let graph = GraphClient::new(http, &format!("http://{addr}"), 2);
    let token = secrecy::SecretString::from("t".to_owned());
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (g, t) = (graph.clone(), token.clone());
            actix_web::rt::spawn(async move {
                g.list_messages(&t, "19:abc@thread.v2", 10, None)
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    let started = Instant::now();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(flight.max.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "six calls in three waves"
    );
    assert_eq!(graph.available_permits(), 2, "every permit came back");
}
