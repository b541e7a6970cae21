//! A fake Jira Data Center under a context path (`http://127.0.0.1:PORT/jira`), PROTOCOLS.md
//! §4.3, §4.5, §5 and §7.1-7.2.
//!
//! Reproduces: the OAuth 2.0 provider of an incoming application link (`/rest/oauth2/latest/
//! authorize|token`; token parameters from the form body OR the query string, as Atlassian's
//! examples send them; PKCE S256; single-use codes; exact redirect URI; refresh-token rotation
//! that disables the used RT, as Atlassian Cloud does and DC may), bearer-authenticated REST
//! (`/rest/api/2/myself`, `/rest/api/2/issue/{idOrKey}` with DC's 404 missing / 403 hidden
//! distinction, moved issues found by their old key, deleted issues 404), anonymous `serverInfo` (version settable), admin webhooks on both APIs (`webhooks.rs`), and scripted 429 with `Retry-After`. Anything outside
//! the context path is 404, which catches URL-joining bugs that drop the context path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use super::entra::pkce_challenge;

/// Client id of the fake incoming application link.
pub const CLIENT_ID: &str = "fake0a1b2c3d4e5f60718293a4b5c6d7e8f9";
/// Its secret.
pub const CLIENT_SECRET: &str = "fakejirasecret0123456789abcdef0123456789abcdef0123456789abcdef01";

const SCOPES: [&str; 4] = ["READ", "WRITE", "ADMIN", "SYSTEM_ADMIN"];

/// A Jira user: stable `key`, login `name`, display name.
#[derive(Clone, Debug)]
pub struct JiraUser {
    pub key: String,
    pub name: String,
    pub display: String,
}

/// An issue and the user keys it is hidden from (issue security / project permissions).
#[derive(Clone, Debug)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub summary: String,
    pub hidden_from: Vec<String>,
}

struct Grant {
    user_key: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    scope: String,
    used: bool,
}

struct AccessToken {
    user_key: String,
    expires_at: Instant,
    revoked: bool,
}

struct RefreshGrant {
    user_key: String,
    scope: String,
    /// Used once (rotated) or revoked.
    disabled: bool,
}

/// State of the fake.
pub struct Jira {
    /// Base URL including the context path, e.g. `http://127.0.0.1:PORT/jira`.
    pub base: String,
    pub users: Mutex<HashMap<String, JiraUser>>,
    /// Who "logs in" at the next authorize (user key).
    pub signed_in: Mutex<Option<String>>,
    /// When set, authorize and token require exactly this redirect URI.
    pub redirect_uri: Mutex<Option<String>>,
    /// Access-token lifetime, seconds (default 3600, Jira DC's default).
    pub expires_in: AtomicU64,
    /// `grant_type=refresh_token` calls that passed client authentication.
    pub refresh_calls: AtomicUsize,
    /// Issues by key.
    pub issues: Mutex<HashMap<String, Issue>>,
    /// Old keys of moved issues → their current key (Jira keeps resolving an old key).
    pub moved_keys: Mutex<HashMap<String, String>>,
    /// Every request: arrival time, method, path and query as sent.
    pub requests: Mutex<Vec<(Instant, String, String)>>,
    throttle: Mutex<(usize, u64)>,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, AccessToken>>,
    refresh_tokens: Mutex<HashMap<String, RefreshGrant>>,
    /// Watchers and comments of issues (issue id → …).
    pub people: Mutex<People>,
    /// Projects, created issues and searches (see the end of this file).
    pub work: JiraWork,
    /// Remote issue links and the permissions around them (`links.rs`).
    pub links: Mutex<Links>,
    /// Admin webhooks, the version `serverInfo` gives and who is an administrator (`webhooks.rs`).
    pub webhooks: Mutex<Webhooks>,
}

/// Who watches which issue, and the comments restricted to some users.
#[derive(Default)]
pub struct People {
    pub watchers: HashMap<u64, Vec<String>>,
    /// (issue id, comment id) → the user keys that may read it (`None`: everyone).
    pub comments: HashMap<(u64, String), Option<Vec<String>>>,
    /// issue id → (assignee key, reporter key), for the issue's `assignee` and `reporter` fields.
    pub roles: HashMap<u64, (Option<String>, Option<String>)>,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    hex::encode(buf)
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": error, "error_description": description}))
}

/// Jira's REST error shape.
fn rest_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"errorMessages": [message], "errors": {}}))
}

fn error_page(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<html><body><h1>OAuth 2.0 error</h1><p>{message}</p></body></html>"
        ))
}

impl Jira {
    fn new(base: String) -> Self {
        Self {
            base,
            users: Mutex::default(),
            signed_in: Mutex::default(),
            redirect_uri: Mutex::default(),
            expires_in: AtomicU64::new(3600),
            refresh_calls: AtomicUsize::new(0),
            issues: Mutex::default(),
            moved_keys: Mutex::default(),
            requests: Mutex::default(),
            throttle: Mutex::default(),
            codes: Mutex::default(),
            access_tokens: Mutex::default(),
            refresh_tokens: Mutex::default(),
            people: Mutex::default(),
            work: JiraWork::default(),
            links: Mutex::default(),
            webhooks: Mutex::default(),
        }
    }

    pub fn add_user(&self, key: &str, name: &str, display: &str) {
        self.users.lock().unwrap().insert(
            key.to_owned(),
            JiraUser {
                key: key.to_owned(),
                name: name.to_owned(),
                display: display.to_owned(),
            },
        );
    }

    /// Makes `key` the user who approves the next authorize.
    pub fn sign_in_as(&self, key: &str) {
        *self.signed_in.lock().unwrap() = Some(key.to_owned());
    }

    /// Registers the application link's redirect URL; from now on it must match exactly.
    pub fn set_redirect_uri(&self, uri: &str) {
        *self.redirect_uri.lock().unwrap() = Some(uri.to_owned());
    }

    pub fn add_issue(&self, id: u64, key: &str, summary: &str, hidden_from: &[&str]) {
        self.issues.lock().unwrap().insert(
            key.to_owned(),
            Issue {
                id,
                key: key.to_owned(),
                summary: summary.to_owned(),
                hidden_from: hidden_from.iter().map(|s| (*s).to_owned()).collect(),
            },
        );
    }

    /// Moves an issue to another project: it gets `new_key` and keeps its id, and the old key
    /// still finds it, as Jira DC does after a move.
    pub fn move_issue(&self, old_key: &str, new_key: &str) {
        let mut issues = self.issues.lock().unwrap();
        let mut issue = issues.remove(old_key).expect("no such issue to move");
        issue.key = new_key.to_owned();
        issues.insert(new_key.to_owned(), issue);
        let mut moved = self.moved_keys.lock().unwrap();
        for current in moved.values_mut() {
            if current == old_key {
                *current = new_key.to_owned();
            }
        }
        moved.insert(old_key.to_owned(), new_key.to_owned());
    }

    /// Deletes an issue: from now on Jira answers 404 for its id and keys.
    pub fn delete_issue(&self, key: &str) {
        self.issues.lock().unwrap().remove(key);
        self.moved_keys.lock().unwrap().retain(|_, k| k != key);
    }

    /// The current key of `key` (itself, or the key a moved issue has now).
    pub fn current_key(&self, key: &str) -> String {
        let key = key.to_ascii_uppercase();
        self.moved_keys
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or(key)
    }

    /// Requests whose path starts with `prefix` (after the context path) since the log had
    /// `since` entries.
    pub fn requests_since(&self, since: usize, prefix: &str) -> Vec<String> {
        let full = format!("{}{prefix}", url::Url::parse(&self.base).unwrap().path());
        self.requests.lock().unwrap()[since..]
            .iter()
            .filter(|(_, _, p)| p.starts_with(&full))
            .map(|(_, m, p)| format!("{m} {p}"))
            .collect()
    }

    /// Revokes every access and refresh token of the user.
    pub fn revoke_user(&self, key: &str) {
        for t in self.access_tokens.lock().unwrap().values_mut() {
            if t.user_key == key {
                t.revoked = true;
            }
        }
        for t in self.refresh_tokens.lock().unwrap().values_mut() {
            if t.user_key == key {
                t.disabled = true;
            }
        }
    }

    /// An access token of `key` valid for an hour, as if they had signed in (for tests of
    /// single REST calls).
    pub fn mint_token(&self, key: &str) -> String {
        let at = random_hex(32);
        self.access_tokens.lock().unwrap().insert(
            at.clone(),
            AccessToken {
                user_key: key.to_owned(),
                expires_at: Instant::now() + Duration::from_secs(3600),
                revoked: false,
            },
        );
        at
    }

    /// The next `n` requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        *self.throttle.lock().unwrap() = (n, retry_after_secs);
    }

    fn issue_tokens(&self, user_key: &str, scope: &str) -> HttpResponse {
        let secs = self.expires_in.load(Ordering::SeqCst);
        let at = random_hex(32);
        let rt = random_hex(32);
        self.access_tokens.lock().unwrap().insert(
            at.clone(),
            AccessToken {
                user_key: user_key.to_owned(),
                expires_at: Instant::now() + Duration::from_secs(secs),
                revoked: false,
            },
        );
        self.refresh_tokens.lock().unwrap().insert(
            rt.clone(),
            RefreshGrant {
                user_key: user_key.to_owned(),
                scope: scope.to_owned(),
                disabled: false,
            },
        );
        HttpResponse::Ok().json(json!({
            "access_token": at,
            "refresh_token": rt,
            "expires_in": secs,
            "token_type": "bearer",
            "scope": scope,
        }))
    }

    /// The user behind the bearer token, or a 401.
    fn caller(&self, req: &HttpRequest) -> Result<JiraUser, Box<HttpResponse>> {
        let unauthorized = || {
            Err(Box::new(HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "OAuth realm=\"fake-jira\""))
                .json(json!({
                    "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                    "errors": {},
                }))))
        };
        let Some(token) = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
        else {
            return unauthorized();
        };
        let key = {
            let tokens = self.access_tokens.lock().unwrap();
            match tokens.get(token) {
                Some(t) if !t.revoked && t.expires_at > Instant::now() => t.user_key.clone(),
                _ => return unauthorized(),
            }
        };
        match self.users.lock().unwrap().get(&key) {
            Some(u) => Ok(u.clone()),
            None => unauthorized(),
        }
    }

    fn user_json(&self, u: &JiraUser) -> Value {
        json!({
            "self": format!("{}/rest/api/2/user?username={}", self.base, u.name),
            "key": u.key,
            "name": u.name,
            "emailAddress": format!("{}@example.com", u.name),
            "displayName": u.display,
            "active": true,
            "deleted": false,
            "timeZone": "UTC",
            "locale": "en_US",
        })
    }
}

/// Logs every request, then answers 429 while scripted throttling lasts.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, actix_web::Error> {
    let fake = req.app_data::<web::Data<Jira>>().unwrap().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    fake.requests
        .lock()
        .unwrap()
        .push((Instant::now(), req.method().to_string(), path));
    let retry_after = {
        let mut t = fake.throttle.lock().unwrap();
        (t.0 > 0).then(|| {
            t.0 -= 1;
            t.1
        })
    };
    if let Some(secs) = retry_after {
        // Header names per the DC rate-limiting docs [mem]; clients should rely on 429 +
        // Retry-After only.
        let res = HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .insert_header(("X-RateLimit-Limit", "10"))
            .insert_header(("X-RateLimit-Remaining", "0"))
            .insert_header(("X-RateLimit-Interval-Seconds", "1"))
            .insert_header(("X-RateLimit-FillRate", "1"))
            .json(json!({"errorMessages": ["Rate limit exceeded."], "errors": {}}));
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

macro_rules! ok_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(res) => return *res,
        }
    };
}

mod create;
mod links;
mod oauth;
mod rest;
mod search;
mod service_desk;
mod webhooks;

use create::*;
use links::*;
use oauth::*;
use rest::*;
use search::*;
use service_desk::*;
use webhooks::*;

/// Starts the fake under `context_path` (e.g. `/jira`; `""` for none). Returns the base URL
/// including the context path, and the state.
pub fn start(context_path: &str) -> (String, web::Data<Jira>) {
    let ctx = context_path.trim_end_matches('/').to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}{ctx}");
    let fake = web::Data::new(Jira::new(base.clone()));
    let f = fake.clone();
    let server = HttpServer::new(move || {
        App::new().app_data(f.clone()).wrap(from_fn(gate)).service(
            web::scope(&ctx)
                .route("/rest/oauth2/latest/authorize", web::get().to(authorize))
                .route("/rest/oauth2/latest/token", web::post().to(token))
                .route("/rest/api/2/myself", web::get().to(myself))
                .route("/rest/api/2/serverInfo", web::get().to(server_info))
                .route("/rest/api/2/issue/{id_or_key}", web::get().to(issue))
                .route("/rest/api/2/issue/{id}/watchers", web::get().to(watchers))
                .route(
                    "/rest/api/2/issue/{id}/comment/{comment}",
                    web::get().to(comment),
                )
                .route(
                    "/rest/api/2/issue/{id_or_key}/comment",
                    web::post().to(add_comment),
                )
                .route(
                    "/rest/api/2/issue/{id_or_key}/comment",
                    web::get().to(list_comments),
                )
                .route("/rest/api/2/project/{key}", web::get().to(project))
                .route("/rest/api/2/user", web::get().to(user_by_name))
                .route(
                    "/rest/api/2/user/viewissue/search",
                    web::get().to(users_who_can_view),
                )
                .route(
                    "/rest/api/2/issue/{id_or_key}/remotelink",
                    web::post().to(upsert_remote_link),
                )
                .route(
                    "/rest/api/2/issue/{id_or_key}/remotelink",
                    web::get().to(get_remote_links),
                )
                .route(
                    "/rest/api/2/issue/{id_or_key}/remotelink",
                    web::delete().to(delete_remote_link),
                )
                .route(
                    "/rest/servicedeskapi/servicedesk",
                    web::get().to(jsm_service_desks),
                )
                .route(
                    "/rest/servicedeskapi/servicedesk/{id}/requesttype",
                    web::get().to(jsm_request_types),
                )
                .route(
                    "/rest/servicedeskapi/request",
                    web::get().to(jsm_my_requests),
                )
                .route(
                    "/rest/servicedeskapi/request",
                    web::post().to(jsm_create_request),
                )
                .route("/rest/api/2/project", web::get().to(projects))
                .route(
                    "/rest/api/2/issue/createmeta/{project}/issuetypes",
                    web::get().to(createmeta_issue_types),
                )
                .route("/rest/api/2/issue", web::post().to(create_issue))
                .route("/rest/api/2/search", web::post().to(search))
                .route("/rest/webhooks/1.0/webhook", web::get().to(list_webhooks))
                .route("/rest/webhooks/1.0/webhook", web::post().to(create_webhook))
                .route(
                    "/rest/webhooks/1.0/webhook/{id}",
                    web::put().to(update_webhook),
                )
                .route(
                    "/rest/jira-webhook/1.0/webhooks",
                    web::get().to(list_webhooks),
                )
                .route(
                    "/rest/jira-webhook/1.0/webhooks",
                    web::post().to(create_webhook),
                )
                .route(
                    "/rest/jira-webhook/1.0/webhooks/{id}",
                    web::put().to(update_webhook),
                ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (base, fake)
}
