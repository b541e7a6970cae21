//! The fakes themselves, driven with a plain HTTP client: the happy paths and the refusals the
//! daemon's tests will rely on. If these fail, the daemon's tests cannot be trusted.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::web;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::entra::{self, CLIENT_ID, CLIENT_SECRET, Entra, TENANT_ID, pkce_challenge};
use crate::fakes::{graph, jira, proxy};

const REDIRECT: &str = "https://bridge.example/auth/microsoft/callback?x=1";
const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-0123456789";
const ALICE: &str = "11111111-1111-1111-1111-111111111111";
const BOB: &str = "22222222-2222-2222-2222-222222222222";
const SCOPE: &str = "openid offline_access profile User.Read Chat.ReadWrite";

/// A client that shows redirects instead of following them and ignores any proxy settings of
/// the machine (loopback must stay loopback).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// `url` with `pairs` appended as a properly encoded query.
fn with_query<K: AsRef<str>, V: AsRef<str>>(url: &str, pairs: &[(K, V)]) -> String {
    url::Url::parse_with_params(url, pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .unwrap()
        .to_string()
}

fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn entra_with_users() -> (SocketAddr, web::Data<Entra>) {
    let (addr, fake) = entra::start(3599);
    fake.add_user(ALICE, "alice@contoso.example", "Alice Adams");
    fake.add_user(BOB, "bob@contoso.example", "Bob Brown");
    (addr, fake)
}

/// Runs `/authorize` as `oid` and returns the redirect's query.
async fn authorize(
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

async fn redeem(addr: SocketAddr, code: &str, verifier: &str) -> (StatusCode, Value) {
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

async fn refresh(addr: SocketAddr, rt: &str) -> (StatusCode, Value) {
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

async fn token_call(addr: SocketAddr, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = client()
        .post(format!("http://{addr}/organizations/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Signs `oid` in through the whole delegated flow; returns the token response.
async fn sign_in(addr: SocketAddr, fake: &Entra, oid: &str) -> Value {
    let q = authorize(addr, fake, oid, &pkce_challenge(VERIFIER)).await;
    let (status, body) = redeem(addr, &param(&q, "code").unwrap(), VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn app_token(addr: SocketAddr) -> String {
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

fn aadsts(body: &Value) -> u64 {
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{}:", body["error_codes"][0]))
    );
    body["error_codes"][0].as_u64().unwrap()
}

#[actix_web::test]
async fn entra_signs_a_user_in_with_pkce_and_its_jwks_verifies_the_id_token() {
    let (addr, fake) = entra_with_users();
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    assert_eq!(param(&q, "state").unwrap(), "st&te=1 2");
    assert_eq!(
        param(&fake.last_authorize.lock().unwrap(), "nonce").unwrap(),
        "n-0S6_WzA2Mj"
    );
    let code = param(&q, "code").unwrap();
    let (status, body) = redeem(addr, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    let at = body["access_token"].as_str().unwrap();
    let issued = fake.tokens.lock().unwrap()[at].clone();
    assert_eq!(issued.oid.as_deref(), Some(ALICE));
    assert_eq!(issued.audience, "https://graph.microsoft.com");
    assert_eq!(issued.tid, TENANT_ID);

    let keys: Value = client()
        .get(format!("http://{addr}/{TENANT_ID}/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &keys["keys"][0];
    assert_eq!(jwk["kid"], entra::KID);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[format!("http://{addr}/{TENANT_ID}/v2.0")]);
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(entra::KID)
    );
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["oid"], ALICE);
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["preferred_username"], "alice@contoso.example");
    assert_eq!(claims["ver"], "2.0");

    // A forged token with the right kid but a foreign key fails; a re-signed tampered one passes
    // the signature (so tests can probe the claim checks).
    let forged = fake.mint_id_token_with_foreign_key(claims.clone());
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
    let mut tampered = claims;
    tampered["oid"] = json!(BOB);
    let resigned = fake.mint_id_token(tampered);
    assert!(jsonwebtoken::decode::<Value>(&resigned, &key, &validation).is_ok());

    // The code is single-use.
    let (status, body) = redeem(addr, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 54005);
}

#[actix_web::test]
async fn entra_refuses_a_wrong_pkce_verifier_a_changed_redirect_and_plain_challenges() {
    let (addr, fake) = entra_with_users();
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    let (status, body) = redeem(addr, &param(&q, "code").unwrap(), "another-verifier").await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 501481));

    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    let (status, body) = token_call(
        addr,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &param(&q, "code").unwrap()),
            (
                "redirect_uri",
                "https://bridge.example/auth/microsoft/callback",
            ),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 500112));

    let res = client()
        .get(with_query(
            &format!("http://{addr}/organizations/oauth2/v2.0/authorize"),
            &[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPE),
                ("state", "s"),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let q = query_of(res.headers()["location"].to_str().unwrap());
    assert_eq!(param(&q, "error").unwrap(), "invalid_request");
    assert_eq!(param(&q, "state").unwrap(), "s");
    assert!(param(&q, "code").is_none());

    *fake.authorize_error.lock().unwrap() = Some("access_denied".into());
    let q = authorize(addr, &fake, ALICE, &pkce_challenge(VERIFIER)).await;
    assert_eq!(param(&q, "error").unwrap(), "access_denied");
    assert!(
        param(&q, "error_description")
            .unwrap()
            .starts_with("AADSTS65004:")
    );
}

#[actix_web::test]
async fn entra_returns_a_new_refresh_token_on_every_refresh_until_the_user_is_revoked() {
    let (addr, fake) = entra_with_users();
    let first = sign_in(addr, &fake, ALICE).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(addr, &rt1).await;
    assert_eq!(status, StatusCode::OK);
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    // Entra leaves the old RT usable; the fake counts its uses so tests can spot stale reuse.
    let (status, third) = refresh(addr, &rt1).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(third["refresh_token"].as_str().unwrap(), rt2);
    assert_eq!(fake.rt_uses.lock().unwrap()[&rt1], 2);
    assert_eq!(fake.refresh_calls.load(Ordering::SeqCst), 2);

    *fake.refresh_error.lock().unwrap() = Some((400, "invalid_grant".into(), 65001));
    let (status, body) = refresh(addr, &rt2).await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 65001));
    assert_eq!(body["suberror"], "consent_required");
    *fake.refresh_error.lock().unwrap() = None;

    fake.revoke_user(ALICE);
    let (status, body) = refresh(addr, &rt2).await;
    assert_eq!((status, aadsts(&body)), (StatusCode::BAD_REQUEST, 50173));
    let at = second["access_token"].as_str().unwrap();
    assert!(fake.tokens.lock().unwrap()[at].revoked);
}

fn bind(base: &str, who: &str, role: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "roles": [role],
        "user@odata.bind": format!("{base}/v1.0/users('{who}')"),
    })
}

#[actix_web::test]
async fn graph_creates_one_on_one_chats_idempotently_and_checks_member_binds() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let base = format!("http://{addr}");
    let at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"chatType": "oneOnOne", "members": [
        bind(&base, ALICE, "owner"), bind(&base, "bob@contoso.example", "owner")]});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = client()
            .post(format!("{base}/v1.0/chats"))
            .bearer_auth(&at)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let chat: Value = res.json().await.unwrap();
        assert_eq!(chat["tenantId"], TENANT_ID);
        ids.push(chat["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], format!("19:{ALICE}_{BOB}@unq.gbl.spaces"));

    let refusals = [
        // the global cloud's host instead of this fake's
        json!({"chatType": "group", "topic": "t", "members": [
            bind("https://graph.microsoft.com", ALICE, "owner"), bind(&base, BOB, "owner")]}),
        // the caller is not a member
        json!({"chatType": "oneOnOne", "members": [
            bind(&base, BOB, "owner"), bind(&base, BOB, "guest")]}),
        // a oneOnOne chat has no topic
        json!({"chatType": "oneOnOne", "topic": "x", "members": [
            bind(&base, ALICE, "owner"), bind(&base, BOB, "owner")]}),
    ];
    for body in refusals {
        let res = client()
            .post(format!("{base}/v1.0/chats"))
            .bearer_auth(&at)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["innerError"]["request-id"].is_string());
    }
    let res = client()
        .post(format!("{base}/v1.0/chats"))
        .bearer_auth(&at)
        .json(&json!({"chatType": "group", "topic": "t", "members": [
            bind(&base, ALICE, "owner"), bind(&base, "nobody@contoso.example", "owner")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // raw and percent-encoded ids both work; a double-encoded one is another (unknown) id
    for (path, want) in [
        (ids[0].clone(), StatusCode::OK),
        (
            ids[0].replace(':', "%3A").replace('@', "%40"),
            StatusCode::OK,
        ),
        (
            ids[0].replace(':', "%253A").replace('@', "%2540"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let res = client()
            .get(format!("{base}/v1.0/chats/{path}?$expand=members"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{path}");
        if want == StatusCode::OK {
            let chat: Value = res.json().await.unwrap();
            assert_eq!(chat["members"].as_array().unwrap().len(), 2);
            assert_eq!(chat["members"][1]["email"], "bob@contoso.example");
        }
    }
    let res = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(graph.chat_members(&ids[0]), vec![ALICE, BOB]);
}

#[actix_web::test]
async fn graph_pages_messages_newest_first_through_next_links_to_the_end() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let chat = graph.create_chat_directly(&[ALICE, BOB], Some("Incidents"));
    graph.seed_messages(&chat, 44, BOB);
    graph.add_system_event(&chat);

    let mut url = format!("http://{addr}/v1.0/chats/{chat}/messages?$top=20");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = client()
            .get(&url)
            .bearer_auth(&at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page["@odata.context"].is_string());
        pages += 1;
        seen.extend(page["value"].as_array().unwrap().iter().cloned());
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("http://{addr}/v1.0/chats/")));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 45));
    assert_eq!(seen[0]["messageType"], "systemEventMessage");
    assert!(seen[0]["from"].is_null());
    assert_eq!(seen[1]["body"]["content"], "<p>message 44</p>");
    assert_eq!(seen[44]["body"]["content"], "<p>message 1</p>");
    let dates: Vec<&str> = seen
        .iter()
        .map(|m| m["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] > w[1]));

    let res = client()
        .get(format!("http://{addr}/v1.0/chats/{chat}/messages?$top=51"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // a non-member is refused
    let bob_only = graph.create_chat_directly(&[BOB, "33333333-3333-3333-3333-333333333333"], None);
    let res = client()
        .get(format!("http://{addr}/v1.0/chats/{bob_only}/messages"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn graph_throttles_with_retry_after_and_then_answers() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    graph.throttle_next(1, 1);
    let res = client()
        .get(format!("http://{addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "TooManyRequests");
    assert_eq!(err["error"]["innerError"]["code"], "429");
    let me: Value = client()
        .get(format!("http://{addr}/v1.0/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userPrincipalName"], "alice@contoso.example");
    let log = graph.requests.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].2, "/v1.0/me");
}

#[actix_web::test]
async fn graph_lets_members_post_messages_and_install_apps_but_not_app_only_tokens_post() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let base = format!("http://{addr}");
    let user_at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let app_at = app_token(entra_addr).await;
    // An app-only token may create the chat...
    let res = client()
        .post(format!("{base}/v1.0/chats"))
        .bearer_auth(&app_at)
        .json(&json!({"chatType": "group", "topic": "PROJ-1", "members": [
            bind(&base, ALICE, "owner"), bind(&base, BOB, "owner")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let chat: Value = res.json().await.unwrap();
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    assert!(chat_id.starts_with("19:") && chat_id.ends_with("@thread.v2"));
    let url = format!("{base}/v1.0/chats/{chat_id}/messages");
    let card = json!({"body": {"contentType": "html",
        "content": "<attachment id=\"c1\"></attachment>"},
        "attachments": [{"id": "c1", "contentType": "application/vnd.microsoft.card.adaptive",
            "content": "{\"type\":\"AdaptiveCard\"}"}]});
    // ...but cannot post in it.
    let res = client()
        .post(&url)
        .bearer_auth(&app_at)
        .json(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client()
        .post(&url)
        .bearer_auth(&user_at)
        .json(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let msg: Value = res.json().await.unwrap();
    assert_eq!(msg["from"]["user"]["id"], ALICE);
    assert_eq!(msg["chatId"], chat_id.as_str());
    for bad in [
        json!({"body": {"contentType": "html", "content": "<attachment id=\"c2\"></attachment>"},
            "attachments": [{"id": "c1", "content": "{}"}]}),
        json!({"body": {"contentType": "html", "content": "<attachment id=\"c1\"></attachment>"},
            "attachments": [{"id": "c1", "content": {"type": "AdaptiveCard"}}]}),
        json!({"body": {"contentType": "text"}}),
    ] {
        let res = client()
            .post(&url)
            .bearer_auth(&user_at)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(graph.messages(&chat_id).len(), 1);

    graph.catalog_apps.lock().unwrap().insert("cat-1".into());
    let install = |app: &str| {
        client()
            .post(format!("{base}/v1.0/chats/{chat_id}/installedApps"))
            .bearer_auth(&user_at)
            .json(
                &json!({"teamsApp@odata.bind": format!("{base}/v1.0/appCatalogs/teamsApps/{app}")}),
            )
            .send()
    };
    assert_eq!(
        install("cat-1").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        install("cat-1").await.unwrap().status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        install("cat-2").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        graph.installs.lock().unwrap().clone(),
        vec![(chat_id.clone(), "cat-1".to_owned())]
    );
}

#[actix_web::test]
async fn graph_batches_run_each_item_on_its_own_and_fail_dependents_with_424() {
    let (entra_addr, entra) = entra_with_users();
    let (addr, graph) = graph::start(entra.clone());
    let at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let chat = graph.create_chat_directly(&[ALICE, BOB], Some("t"));
    let post = |body: Value| {
        client()
            .post(format!("http://{addr}/v1.0/$batch"))
            .bearer_auth(&at)
            .json(&body)
            .send()
    };
    let res = post(json!({"requests": [
        {"id": "1", "method": "GET", "url": "/me"},
        {"id": "2", "method": "GET", "url": "/chats/19:missing@thread.v2"},
        {"id": "3", "method": "GET", "url": "/me", "dependsOn": ["2"]},
        {"id": "4", "method": "POST", "url": format!("/chats/{chat}/messages"),
         "headers": {"Content-Type": "application/json"}, "body": {"body": {"content": "hi"}}},
    ]}))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let status_of = |id: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        [
            status_of("1"),
            status_of("2"),
            status_of("3"),
            status_of("4")
        ],
        [200, 404, 424, 201]
    );
    assert_eq!(graph.messages(&chat).len(), 1);
    // duplicate ids (case-insensitive) and a body without Content-Type reject the whole batch
    for bad in [
        json!({"requests": [{"id": "a", "method": "GET", "url": "/me"},
                            {"id": "A", "method": "GET", "url": "/me"}]}),
        json!({"requests": [{"id": "a", "method": "POST", "url": "/chats", "body": {}}]}),
    ] {
        assert_eq!(post(bad).await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
}

#[actix_web::test]
async fn jira_under_a_context_path_takes_token_parameters_in_the_query_and_rotates_refresh_tokens()
{
    let (base, fake) = jira::start("/jira");
    assert!(base.ends_with("/jira"));
    fake.add_user("JIRAUSER10100", "alice", "Alice Adams");
    fake.add_user("JIRAUSER10200", "bob", "Bob Brown");
    fake.add_issue(10001, "ABC-1", "Printer on fire", &["JIRAUSER10200"]);
    fake.set_redirect_uri("https://bridge.example/auth/jira/callback");
    fake.sign_in_as("JIRAUSER10100");

    let root = base.trim_end_matches("/jira");
    let res = client()
        .get(format!("{root}/rest/api/2/serverInfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "outside the context path"
    );
    let info: Value = client()
        .get(format!("{base}/rest/api/2/serverInfo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["baseUrl"], base.as_str());

    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "https://bridge.example/auth/jira/callback"),
                ("response_type", "code"),
                ("scope", "WRITE"),
                ("state", "xyz"),
                ("code_challenge", &pkce_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let q = query_of(res.headers()["location"].to_str().unwrap());
    assert_eq!(param(&q, "state").unwrap(), "xyz");
    let code = param(&q, "code").unwrap();
    // Everything in the query string of the POST, as in Atlassian's examples.
    let token = |params: Vec<(&'static str, String)>| {
        client()
            .post(with_query(
                &format!("{base}/rest/oauth2/latest/token"),
                &params,
            ))
            .send()
    };
    let common = |grant: &str| {
        vec![
            ("client_id", jira::CLIENT_ID.to_owned()),
            ("client_secret", jira::CLIENT_SECRET.to_owned()),
            ("grant_type", grant.to_owned()),
            (
                "redirect_uri",
                "https://bridge.example/auth/jira/callback".to_owned(),
            ),
        ]
    };
    let mut p = common("authorization_code");
    p.push(("code", code.clone()));
    p.push(("code_verifier", "wrong".to_owned()));
    assert_eq!(token(p).await.unwrap().status(), StatusCode::BAD_REQUEST);
    // the failed attempt spent the code; a fresh one with the right verifier works
    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "https://bridge.example/auth/jira/callback"),
                ("response_type", "code"),
                ("scope", "WRITE"),
                ("code_challenge", &pkce_challenge(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let code = param(
        &query_of(res.headers()["location"].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let mut p = common("authorization_code");
    p.push(("code", code));
    p.push(("code_verifier", VERIFIER.to_owned()));
    let tokens: Value = token(p).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    let me: Value = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["key"].as_str(), me["name"].as_str()),
        (Some("JIRAUSER10100"), Some("alice"))
    );
    for (key, want) in [
        ("ABC-1", StatusCode::OK),
        ("abc-1", StatusCode::OK),
        ("10001", StatusCode::OK),
        ("ABC-2", StatusCode::NOT_FOUND),
    ] {
        let res = client()
            .get(format!("{base}/rest/api/2/issue/{key}"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want, "{key}");
    }

    // refresh in a form body this time: a new pair, and the used RT is spent
    let refresh = |rt: &str| {
        let mut p = common("refresh_token");
        p.push(("refresh_token", rt.to_owned()));
        client()
            .post(format!("{base}/rest/oauth2/latest/token"))
            .form(&p)
            .send()
    };
    let res = refresh(&rt).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let next: Value = res.json().await.unwrap();
    let rt2 = next["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt);
    let res = refresh(&rt).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(fake.refresh_calls.load(Ordering::SeqCst), 2);

    fake.throttle_next(1, 2);
    let res = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "2");

    fake.revoke_user("JIRAUSER10100");
    let res = client()
        .get(format!("{base}/rest/api/2/myself"))
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&rt2).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn jira_answers_403_for_an_issue_hidden_from_the_caller() {
    let (base, fake) = jira::start("/jira");
    fake.add_user("JIRAUSER10200", "bob", "Bob Brown");
    fake.add_issue(10001, "ABC-1", "Printer on fire", &["JIRAUSER10200"]);
    fake.sign_in_as("JIRAUSER10200");
    let res = client()
        .get(with_query(
            &format!("{base}/rest/oauth2/latest/authorize"),
            &[
                ("client_id", jira::CLIENT_ID),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("response_type", "code"),
                ("scope", "READ"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let code = param(
        &query_of(res.headers()["location"].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let tokens: Value = client()
        .post(format!("{base}/rest/oauth2/latest/token"))
        .form(&[
            ("client_id", jira::CLIENT_ID),
            ("client_secret", jira::CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = client()
        .get(format!("{base}/rest/api/2/issue/ABC-1"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client()
        .get(format!("{base}/rest/api/2/issue/ABC-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn the_https_fake_graph_is_reachable_through_a_connect_proxy_only_with_its_credentials() {
    let dir = crate::support::app::TempDir::new();
    let (cert, key, pem) = crate::support::tls::self_signed(&dir.0);
    let (entra_addr, entra) = entra_with_users();
    let (graph_addr, graph) = graph::start_tls(entra.clone(), &cert, &key);
    assert!(graph.base.starts_with("https://"));
    let at = sign_in(entra_addr, &entra, ALICE).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
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
    let at = sign_in(entra_addr, &entra, BOB).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
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
