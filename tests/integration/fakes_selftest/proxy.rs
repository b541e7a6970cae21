//! The CONNECT proxy double in front of the HTTPS Graph double, and plain HTTP through it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;

use crate::fakes::{graph, proxy};
use crate::support::oauth_client::*;

#[actix_web::test]
async fn the_https_fake_graph_is_reachable_through_a_connect_proxy_only_with_its_credentials() {
    let dir = crate::support::app::TempDir::new();
    let (cert, key, pem) = crate::support::tls::self_signed(&dir.0);
    let (entra_addr, entra) = entra_with_users();
    let (graph_addr, graph) = graph::start_tls(entra.clone(), &cert, &key);
    assert!(graph.base.starts_with("https://"));
    let at = access_token(entra_addr, &entra, ALICE).await;
    let (proxy_addr, log) = proxy::start(Some(("user", "p@ss")));
    let through = |proxy_url: String| {
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(proxy_url).unwrap())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap()
    };
    let me: Value = through(format!("http://user:p%40ss@{proxy_addr}"))
        .get(format!("https://{graph_addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], ALICE);
    assert_eq!(
        log.connects.lock().unwrap().clone(),
        vec![graph_addr.to_string()]
    );

    let refused = through(format!("http://{proxy_addr}"))
        .get(format!("https://{graph_addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await;
    assert!(refused.is_err(), "a tunnel without credentials must fail");
    assert_eq!(log.refused.load(Ordering::SeqCst), 1);
    assert_eq!(log.connects.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn plain_http_goes_through_the_proxy_in_absolute_form() {
    let (entra_addr, entra) = entra_with_users();
    let (graph_addr, graph) = graph::start(entra.clone());
    let at = access_token(entra_addr, &entra, BOB).await;
    let (proxy_addr, log) = proxy::start(None);
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(format!("http://{proxy_addr}")).unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    let me: Value = client
        .get(format!("http://{graph_addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], BOB);
    assert_eq!(
        log.forwarded.lock().unwrap().clone(),
        vec![format!("http://{graph_addr}/v1.0/me")]
    );
    assert!(log.connects.lock().unwrap().is_empty());
    let requests = graph.requests.lock().unwrap();
    assert!(requests[0].0 >= started && requests[0].2 == "/v1.0/me");
}
