//! Signed requests as the callers the appliance trusts: the Jira app's HS256 JWT on `/api/v1`
//! (with its query-string hash) and the Bot Framework's RS256 token on `/bot/messages`.

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::app::{TestApp, spawn_app};

/// A registered Jira instance the tests sign requests for.
pub struct JiraApp {
    pub public_id: String,
    pub secret: String,
}

/// An app with setup done and one registered Jira instance.
pub async fn app_with_instance() -> (TestApp, JiraApp) {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, secret) = app.register_instance("https://jira.example.com").await;
    (app, JiraApp { public_id, secret })
}

/// Claims the Jira app would send for `method path?query`.
pub fn claims(jira: &JiraApp, method: &str, path_and_query: &str, sub: &str) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": jira.public_id, "aud": jira.public_id, "sub": sub, "iat": now, "exp": now + 180,
        "qsh": jira_teams_bridge::domain::qsh::qsh(method, path, query, ""),
        // a unique id per token, as the Jira app sends: two changes in one second are two tokens
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// A token signed with the instance's shared secret.
pub fn sign(secret: &str, claims: &Value) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Sends a request signed as Jira user `sub`.
pub async fn call(
    app: &TestApp,
    jira: &JiraApp,
    method: &str,
    path: &str,
    sub: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let token = sign(&jira.secret, &claims(jira, method, path, sub));
    send(app, method, path, Some(format!("JWT {token}")), body).await
}

/// Sends a request with the given Authorization header.
pub async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// The bot's app id: the audience of the Bot Framework's tokens.
pub const BOT_ID: &str = crate::fakes::entra::CLIENT_ID;

/// Claims of a valid Bot Framework token for an activity from `service_url`.
pub fn bot_claims(service_url: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "https://api.botframework.com", "aud": BOT_ID, "serviceurl": service_url,
           "nbf": now - 10, "exp": now + 3600, "iat": now - 10})
}

/// Posts `activity` to `/bot/messages` of the public listener at `public`, with `token` as the
/// bearer token when there is one.
pub async fn post_activity(
    public: &str,
    token: Option<String>,
    activity: &Value,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{public}/bot/messages"))
        .json(activity);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    req.send().await.unwrap()
}
