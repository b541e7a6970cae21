//! A plain HTTP client's steps against the doubles, for their self-tests: the OAuth dance with
//! the Entra ID double (authorize, redeem, refresh, app token) and reading its answers.

use std::net::SocketAddr;

use actix_web::web;
use reqwest::StatusCode;
use serde_json::Value;

use crate::fakes::entra::{self, CLIENT_ID, CLIENT_SECRET, Entra, pkce_challenge};

pub const REDIRECT: &str = "https://bridge.example/auth/microsoft/callback?x=1";
pub const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-0123456789";
pub const ALICE: &str = "11111111-1111-1111-1111-111111111111";
pub const BOB: &str = "22222222-2222-2222-2222-222222222222";
pub const SCOPE: &str = "openid offline_access profile User.Read Chat.ReadWrite";

/// A client that shows redirects instead of following them and ignores any proxy settings of
/// the machine (loopback must stay loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// `url` with `pairs` appended as a properly encoded query.
pub fn with_query<K: AsRef<str>, V: AsRef<str>>(url: &str, pairs: &[(K, V)]) -> String {
    url::Url::parse_with_params(url, pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .unwrap()
        .to_string()
}

pub fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub fn entra_with_users() -> (SocketAddr, web::Data<Entra>) {
    let (addr, fake) = entra::start(3599);
    fake.add_user(ALICE, "alice@contoso.example", "Alice Adams");
    fake.add_user(BOB, "bob@contoso.example", "Bob Brown");
    (addr, fake)
}

/// Runs `/authorize` as `oid` and returns the redirect's query.
pub async fn authorize(
    addr: SocketAddr,
    fake: &Entra,
    oid: &str,
    challenge: &str,
) -> Vec<(String, String)> {
    fake.sign_in_as(oid);
    let res = client()
        .get(with_query(
            &format!("http://{addr}/organizations/oauth2/v2.0/authorize"),
            &[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPE),
                ("state", "st&te=1 2"),
                ("nonce", "n-0S6_WzA2Mj"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://bridge.example/auth/microsoft/callback?x=1&"));
    query_of(&location)
}

pub async fn redeem(addr: SocketAddr, code: &str, verifier: &str) -> (StatusCode, Value) {
    token_call(
        addr,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(addr: SocketAddr, rt: &str) -> (StatusCode, Value) {
    token_call(
        addr,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", SCOPE),
        ],
    )
    .await
}

pub async fn token_call(addr: SocketAddr, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = client()
        .post(format!("http://{addr}/organizations/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Signs `oid` in through the whole delegated flow; returns the token response.
pub async fn sign_in(addr: SocketAddr, fake: &Entra, oid: &str) -> Value {
    let q = authorize(addr, fake, oid, &pkce_challenge(VERIFIER)).await;
    let (status, body) = redeem(addr, &param(&q, "code").unwrap(), VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub async fn app_token(addr: SocketAddr) -> String {
    let (status, body) = token_call(
        addr,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body["access_token"].as_str().unwrap().to_owned()
}

pub fn aadsts(body: &Value) -> u64 {
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{}:", body["error_codes"][0]))
    );
    body["error_codes"][0].as_u64().unwrap()
}

/// The access token a user `oid` gets by signing in to the Entra ID double at `addr`.
pub async fn access_token(addr: SocketAddr, fake: &Entra, oid: &str) -> String {
    sign_in(addr, fake, oid).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}
