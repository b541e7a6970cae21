//! A fake Jira Data Center under a context path (`http://127.0.0.1:PORT/jira`), PROTOCOLS.md
//! §4.3, §4.5, §5 and §7.1-7.2.
//!
//! Reproduces: the OAuth 2.0 provider of an incoming application link (`/rest/oauth2/latest/
//! authorize|token`; token parameters from the form body OR the query string, as Atlassian's
//! examples send them; PKCE S256; single-use codes; exact redirect URI; refresh-token rotation
//! that disables the used RT, as Atlassian Cloud does and DC may), bearer-authenticated REST
//! (`/rest/api/2/myself`, `/rest/api/2/issue/{idOrKey}` with DC's 404 missing / 403 hidden
//! distinction), anonymous `serverInfo`, and scripted 429 with `Retry-After`. Anything outside
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
}

/// Who watches which issue, and the comments restricted to some users.
#[derive(Default)]
pub struct People {
    pub watchers: HashMap<u64, Vec<String>>,
    /// (issue id, comment id) → the user keys that may read it (`None`: everyone).
    pub comments: HashMap<(u64, String), Option<Vec<String>>>,
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
            requests: Mutex::default(),
            throttle: Mutex::default(),
            codes: Mutex::default(),
            access_tokens: Mutex::default(),
            refresh_tokens: Mutex::default(),
            people: Mutex::default(),
            work: JiraWork::default(),
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

fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut url = url::Url::parse(redirect_uri).unwrap();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .finish()
}

async fn authorize(
    query: web::Query<Vec<(String, String)>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("client_id") != Some(CLIENT_ID) {
        return error_page("Unknown client_id.");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return error_page("Missing or invalid redirect_uri.");
    };
    if let Some(registered) = fake.redirect_uri.lock().unwrap().as_deref()
        && registered != redirect_uri
    {
        // Never redirect to an unregistered URI: show the error in Jira instead.
        return error_page("redirect_uri does not match the application link.");
    }
    let state = get("state").unwrap_or_default();
    let refuse = |error: &str, description: &str| {
        redirect(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", state),
            ],
        )
    };
    if get("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be code");
    }
    let scope = get("scope").unwrap_or_default();
    if scope.is_empty() || !scope.split_whitespace().all(|s| SCOPES.contains(&s)) {
        return refuse(
            "invalid_scope",
            "scope must be READ, WRITE, ADMIN or SYSTEM_ADMIN",
        );
    }
    let code_challenge = get("code_challenge").map(str::to_owned);
    // Plain authorization code (no PKCE) is allowed; with PKCE only S256 is accepted here.
    if code_challenge.is_some() && get("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    let signed_in = fake.signed_in.lock().unwrap().clone();
    let Some(user_key) = signed_in.filter(|k| fake.users.lock().unwrap().contains_key(k)) else {
        return refuse("access_denied", "no user logged in");
    };
    let code = random_hex(16);
    fake.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            user_key,
            redirect_uri: redirect_uri.to_owned(),
            code_challenge,
            scope: scope.to_owned(),
            used: false,
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if get("state").is_some() {
        pairs.push(("state", state));
    }
    redirect(redirect_uri, &pairs)
}

async fn token(req: HttpRequest, body: web::Bytes, fake: web::Data<Jira>) -> HttpResponse {
    // Atlassian's examples put every parameter in the query string of the POST; regular OAuth
    // clients send a form body. Accept both; the body wins on conflicts.
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    params.extend(
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default(),
    );
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let registered = fake.redirect_uri.lock().unwrap().clone();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let (user_key, scope) = {
                let mut codes = fake.codes.lock().unwrap();
                let Some(grant) = codes.get_mut(&get("code")) else {
                    return oauth_error(400, "invalid_grant", "Unknown authorization code");
                };
                if grant.used {
                    return oauth_error(400, "invalid_grant", "Authorization code already used");
                }
                grant.used = true;
                if grant.redirect_uri != get("redirect_uri") {
                    return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
                }
                if let Some(challenge) = &grant.code_challenge
                    && pkce_challenge(&get("code_verifier")) != *challenge
                {
                    return oauth_error(400, "invalid_grant", "PKCE verification failed");
                }
                (grant.user_key.clone(), grant.scope.clone())
            };
            fake.issue_tokens(&user_key, &scope)
        }
        "refresh_token" => {
            fake.refresh_calls.fetch_add(1, Ordering::SeqCst);
            if let Some(r) = registered
                && !get("redirect_uri").is_empty()
                && get("redirect_uri") != r
            {
                return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
            }
            let (user_key, scope) = {
                let mut rts = fake.refresh_tokens.lock().unwrap();
                match rts.get_mut(&get("refresh_token")) {
                    Some(g) if !g.disabled => {
                        // Rotation: the presented RT is spent whatever happens next.
                        g.disabled = true;
                        (g.user_key.clone(), g.scope.clone())
                    }
                    _ => {
                        return oauth_error(400, "invalid_grant", "Refresh token is invalid");
                    }
                }
            };
            fake.issue_tokens(&user_key, &scope)
        }
        _ => oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    }
}

async fn myself(req: HttpRequest, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    HttpResponse::Ok().json(fake.user_json(&user))
}

async fn server_info(fake: web::Data<Jira>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "baseUrl": fake.base,
        "version": "10.3.1",
        "versionNumbers": [10, 3, 1],
        "deploymentType": "Server",
        "buildNumber": 10030001,
        "buildDate": "2026-01-01T00:00:00.000+0000",
        "serverTitle": "Fake Jira",
    }))
}

async fn issue(req: HttpRequest, path: web::Path<String>, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let wanted = path.into_inner();
    let found = {
        let issues = fake.issues.lock().unwrap();
        if wanted.bytes().all(|b| b.is_ascii_digit()) {
            issues
                .values()
                .find(|i| i.id.to_string() == wanted)
                .cloned()
        } else {
            // Lower-case keys are retried upper-cased, as Jira does.
            issues.get(&wanted.to_ascii_uppercase()).cloned()
        }
    };
    let Some(issue) = found else {
        return rest_error(404, "Issue Does Not Exist");
    };
    if issue.hidden_from.contains(&user.key) {
        // DC leaks existence: 403, not 404, when the issue exists but is not browsable.
        return rest_error(
            403,
            "You do not have the permission to see the specified issue.",
        );
    }
    HttpResponse::Ok().json(json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id.to_string(),
        "key": issue.key,
        "self": format!("{}/rest/api/2/issue/{}", fake.base, issue.id),
        "fields": {
            "summary": issue.summary,
            "status": {"name": "Open", "id": "1"},
        },
    }))
}

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
                .route("/rest/api/2/project/{key}", web::get().to(project))
                .route("/rest/api/2/user", web::get().to(user_by_name))
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
                .route("/rest/api/2/search", web::post().to(search)),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (base, fake)
}

// --- watchers, comments, projects (personal notifications and subscriptions) ---

impl Jira {
    /// Makes users watch an issue.
    pub fn add_watchers(&self, issue_id: u64, keys: &[&str]) {
        self.people
            .lock()
            .unwrap()
            .watchers
            .entry(issue_id)
            .or_default()
            .extend(keys.iter().map(|k| (*k).to_owned()));
    }

    /// Adds a comment, readable by everyone who sees the issue (`readers` = `None`) or only by
    /// the listed users (a role or group visibility).
    pub fn add_comment(&self, issue_id: u64, comment_id: &str, readers: Option<&[&str]>) {
        self.people.lock().unwrap().comments.insert(
            (issue_id, comment_id.to_owned()),
            readers.map(|r| r.iter().map(|k| (*k).to_owned()).collect()),
        );
    }

    /// The issue with this id if the user may see it; else the DC error answer.
    fn visible_issue(&self, user: &JiraUser, id: &str) -> Result<Issue, Box<HttpResponse>> {
        let issue = self
            .issues
            .lock()
            .unwrap()
            .values()
            .find(|i| i.id.to_string() == id || i.key == id)
            .cloned();
        match issue {
            None => Err(Box::new(rest_error(404, "Issue Does Not Exist"))),
            Some(i) if i.hidden_from.contains(&user.key) => Err(Box::new(rest_error(
                403,
                "You do not have the permission to see the specified issue.",
            ))),
            Some(i) => Ok(i),
        }
    }
}

async fn watchers(
    req: HttpRequest,
    path: web::Path<String>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let issue = ok_or_return!(fake.visible_issue(&user, &path.into_inner()));
    let keys = fake
        .people
        .lock()
        .unwrap()
        .watchers
        .get(&issue.id)
        .cloned()
        .unwrap_or_default();
    let users = fake.users.lock().unwrap().clone();
    let watchers: Vec<Value> = keys
        .iter()
        .filter_map(|k| users.get(k))
        .map(|u| fake.user_json(u))
        .collect();
    HttpResponse::Ok().json(json!({
        "self": format!("{}/rest/api/2/issue/{}/watchers", fake.base, issue.key),
        "isWatching": keys.contains(&user.key),
        "watchCount": watchers.len(),
        "watchers": watchers,
    }))
}

async fn comment(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let (id, comment_id) = path.into_inner();
    let issue = ok_or_return!(fake.visible_issue(&user, &id));
    let readers = fake
        .people
        .lock()
        .unwrap()
        .comments
        .get(&(issue.id, comment_id.clone()))
        .cloned();
    match readers {
        // DC filters comments the user may not read (getCommentsForUser): not found
        Some(Some(keys)) if !keys.contains(&user.key) => rest_error(404, "Comment not found"),
        Some(_) => HttpResponse::Ok().json(json!({
            "id": comment_id,
            "self": format!("{}/rest/api/2/issue/{}/comment/{comment_id}", fake.base, issue.id),
            "body": "a comment",
        })),
        None => rest_error(404, "Comment not found"),
    }
}

async fn project(req: HttpRequest, path: web::Path<String>, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let key = path.into_inner().to_ascii_uppercase();
    // a project is visible when one of its issues is
    let visible = fake.issues.lock().unwrap().values().any(|i| {
        i.key.split('-').next() == Some(key.as_str()) && !i.hidden_from.contains(&user.key)
    });
    if !visible {
        return rest_error(404, &format!("No project could be found with key '{key}'."));
    }
    HttpResponse::Ok().json(json!({
        "self": format!("{}/rest/api/2/project/{key}", fake.base),
        "id": "10000",
        "key": key,
        "name": format!("Project {key}"),
    }))
}

async fn user_by_name(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let _ = ok_or_return!(fake.caller(&req));
    let Some(name) = query.get("username").or_else(|| query.get("key")) else {
        return rest_error(400, "The username or key query parameter is required.");
    };
    let found = fake
        .users
        .lock()
        .unwrap()
        .values()
        .find(|u| &u.name == name || &u.key == name)
        .cloned();
    match found {
        Some(u) => HttpResponse::Ok().json(fake.user_json(&u)),
        None => rest_error(404, &format!("The user named '{name}' does not exist")),
    }
}

// ---------------------------------------------------------------------------------------------
// Jira Service Management servicedeskapi (PROTOCOLS.md §4.6): service desks visible per user,
// request types and the user's requests in the real paging envelope (`size`, `start`, `limit`,
// `isLastPage`, `values`, `_links`; `start`/`limit` honoured, limit capped at 50), request
// creation recording the bearer token's user, and JSM's error shape
// `{"errorMessage": .., "i18nErrorMessage": {"i18nKey": .., "parameters": []}}` [mem].

/// A service desk of the fake JSM.
#[derive(Clone, Debug)]
pub struct Desk {
    pub id: String,
    pub project_key: String,
    /// User keys that may use it; `None` = everyone.
    pub visible_to: Option<Vec<String>>,
    /// `(id, name, description)`.
    pub request_types: Vec<(String, String, String)>,
}

/// A request raised through the fake.
#[derive(Clone, Debug)]
pub struct JsmRequest {
    pub issue_key: String,
    pub desk_id: String,
    pub request_type_id: String,
    pub summary: String,
    pub description: String,
    /// The user whose token raised it.
    pub creator: String,
    pub open: bool,
}

/// JSM state of one fake Jira.
#[derive(Default)]
pub struct Jsm {
    pub desks: Mutex<Vec<Desk>>,
    pub requests: Mutex<Vec<JsmRequest>>,
    /// When set, the next create answers 400 with this `errorMessage` (a required field, a
    /// workflow validator: rules only Jira knows).
    pub reject_next_create: Mutex<Option<String>>,
}

/// JSM state by fake base URL (kept beside `Jira` so its struct stays as it is).
static JSM: std::sync::LazyLock<Mutex<HashMap<String, std::sync::Arc<Jsm>>>> =
    std::sync::LazyLock::new(Mutex::default);

impl Jira {
    /// This fake's JSM state.
    pub fn jsm(&self) -> std::sync::Arc<Jsm> {
        JSM.lock()
            .unwrap()
            .entry(self.base.clone())
            .or_default()
            .clone()
    }

    /// Adds a service desk with `n_types` request types named `Type <desk>-<i>`; ids are
    /// `<desk id * 1000 + i>`.
    pub fn add_desk(
        &self,
        id: &str,
        project_key: &str,
        n_types: usize,
        visible_to: Option<&[&str]>,
    ) {
        let base: u64 = id.parse::<u64>().unwrap() * 1000;
        let request_types = (1..=n_types as u64)
            .map(|i| {
                (
                    (base + i).to_string(),
                    format!("Type {id}-{i}"),
                    format!("Request type {i} of desk {id}"),
                )
            })
            .collect();
        self.jsm().desks.lock().unwrap().push(Desk {
            id: id.to_owned(),
            project_key: project_key.to_owned(),
            visible_to: visible_to.map(|v| v.iter().map(|s| (*s).to_owned()).collect()),
            request_types,
        });
    }

    /// Adds a request as if `creator` had raised it.
    pub fn add_jsm_request(
        &self,
        desk_id: &str,
        key: &str,
        summary: &str,
        creator: &str,
        open: bool,
    ) {
        self.jsm().requests.lock().unwrap().push(JsmRequest {
            issue_key: key.to_owned(),
            desk_id: desk_id.to_owned(),
            request_type_id: String::new(),
            summary: summary.to_owned(),
            description: String::new(),
            creator: creator.to_owned(),
            open,
        });
    }

    /// Requests the servicedeskapi got (method, path and query).
    pub fn jsm_calls(&self) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, p)| p.contains("/rest/servicedeskapi/"))
            .map(|(_, m, p)| (m.clone(), p.clone()))
            .collect()
    }
}

fn jsm_error(status: u16, key: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "errorMessage": message,
        "i18nErrorMessage": {"i18nKey": key, "parameters": []},
    }))
}

fn visible(desk: &Desk, user: &str) -> bool {
    desk.visible_to
        .as_ref()
        .is_none_or(|v| v.iter().any(|u| u == user))
}

/// The servicedeskapi page of `items` for `start`/`limit` from the query.
fn jsm_page(
    fake: &Jira,
    path: &str,
    query: &HashMap<String, String>,
    items: Vec<Value>,
) -> HttpResponse {
    let start: usize = match query.get("start").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return jsm_error(400, "sd.error.start", "start must be a number"),
    };
    let limit: usize = match query.get("limit").map(|s| s.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if n > 0 => n.min(50),
        _ => return jsm_error(400, "sd.error.limit", "limit must be a positive number"),
    };
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let last = start + values.len() >= total;
    let mut links = json!({
        "base": fake.base,
        "context": "",
        "self": format!("{}{path}?start={start}&limit={limit}", fake.base),
    });
    if !last {
        links["next"] = json!(format!(
            "{}{path}?start={}&limit={limit}",
            fake.base,
            start + limit
        ));
    }
    if start > 0 {
        links["prev"] = json!(format!(
            "{}{path}?start={}&limit={limit}",
            fake.base,
            start.saturating_sub(limit)
        ));
    }
    HttpResponse::Ok().json(json!({
        "size": values.len(),
        "start": start,
        "limit": limit,
        "isLastPage": last,
        "values": values,
        "_links": links,
    }))
}

fn request_json(fake: &Jira, r: &JsmRequest) -> Value {
    json!({
        "issueId": r.issue_key.split('-').next_back().unwrap_or("0"),
        "issueKey": r.issue_key,
        "requestTypeId": r.request_type_id,
        "serviceDeskId": r.desk_id,
        "reporter": {"key": r.creator, "name": r.creator},
        "requestFieldValues": [
            {"fieldId": "summary", "label": "What do you need?", "value": r.summary},
            {"fieldId": "description", "label": "Why do you need this?", "value": r.description},
        ],
        "currentStatus": {"status": if r.open { "Waiting for support" } else { "Resolved" }},
        "_links": {"web": format!("{}/servicedesk/customer/portal/{}/{}", fake.base, r.desk_id, r.issue_key)},
    })
}

async fn jsm_request_types(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let id = path.into_inner();
    let jsm = fake.jsm();
    let desk = jsm
        .desks
        .lock()
        .unwrap()
        .iter()
        .find(|d| d.id == id)
        .cloned();
    let Some(desk) = desk.filter(|d| visible(d, &user.key)) else {
        return jsm_error(
            404,
            "sd.service.desk.error.not.found",
            &format!(
                "The service desk with ID {id} does not exist or you do not have permission to view it."
            ),
        );
    };
    let items = desk
        .request_types
        .iter()
        .map(|(tid, name, description)| {
            json!({"id": tid, "name": name, "description": description, "helpText": "",
                   "serviceDeskId": desk.id, "groupIds": ["1"]})
        })
        .collect();
    jsm_page(
        &fake,
        &format!("/rest/servicedeskapi/servicedesk/{id}/requesttype"),
        &query,
        items,
    )
}

async fn jsm_my_requests(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let status = query
        .get("requestStatus")
        .map(String::as_str)
        .unwrap_or("ALL_REQUESTS");
    let ownership = query
        .get("requestOwnership")
        .map(String::as_str)
        .unwrap_or("ALL_REQUESTS");
    if !matches!(status, "OPEN_REQUESTS" | "CLOSED_REQUESTS" | "ALL_REQUESTS")
        || !matches!(
            ownership,
            "OWNED_REQUESTS" | "PARTICIPATED_REQUESTS" | "ALL_REQUESTS"
        )
    {
        return jsm_error(
            400,
            "sd.request.error.filter",
            "Unknown requestStatus or requestOwnership",
        );
    }
    let jsm = fake.jsm();
    let items = jsm
        .requests
        .lock()
        .unwrap()
        .iter()
        // no participants in the fake: only own requests are anyone's
        .filter(|r| ownership != "PARTICIPATED_REQUESTS" && r.creator == user.key)
        .filter(|r| match status {
            "OPEN_REQUESTS" => r.open,
            "CLOSED_REQUESTS" => !r.open,
            _ => true,
        })
        .map(|r| request_json(&fake, r))
        .collect();
    jsm_page(&fake, "/rest/servicedeskapi/request", &query, items)
}

async fn jsm_create_request(
    req: HttpRequest,
    body: web::Bytes,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jsm_error(
            400,
            "sd.request.error.body",
            "The request body is not valid JSON.",
        );
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let (Some(desk_id), Some(type_id)) =
        (text(&body["serviceDeskId"]), text(&body["requestTypeId"]))
    else {
        return jsm_error(
            400,
            "sd.request.error.ids",
            "serviceDeskId and requestTypeId are required.",
        );
    };
    let jsm = fake.jsm();
    let desk = jsm
        .desks
        .lock()
        .unwrap()
        .iter()
        .find(|d| d.id == desk_id)
        .cloned();
    let Some(desk) = desk.filter(|d| visible(d, &user.key)) else {
        return jsm_error(
            404,
            "sd.service.desk.error.not.found",
            &format!(
                "The service desk with ID {desk_id} does not exist or you do not have permission to view it."
            ),
        );
    };
    if !desk.request_types.iter().any(|(id, _, _)| *id == type_id) {
        return jsm_error(
            400,
            "sd.request.type.error.not.found",
            &format!("The request type with ID {type_id} does not exist in this service desk."),
        );
    }
    if let Some(message) = jsm.reject_next_create.lock().unwrap().take() {
        return jsm_error(400, "sd.request.create.error", &message);
    }
    let fields = &body["requestFieldValues"];
    let summary = fields["summary"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if summary.is_empty() {
        return jsm_error(
            400,
            "sd.request.create.field.required",
            "Summary: You must specify a summary of the issue.",
        );
    }
    let created = {
        let mut requests = jsm.requests.lock().unwrap();
        let n = requests.iter().filter(|r| r.desk_id == desk.id).count() + 1;
        let r = JsmRequest {
            issue_key: format!("{}-{n}", desk.project_key),
            desk_id: desk.id.clone(),
            request_type_id: type_id,
            summary,
            description: fields["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            creator: user.key.clone(),
            open: true,
        };
        requests.push(r.clone());
        r
    };
    HttpResponse::Created().json(request_json(&fake, &created))
}

// ---------------------------------------------------------------------------------------------
// Projects, create-issue metadata, issue creation and JQL search as the calling user
// (PROTOCOLS.md §4.5, §7.3, §7.4). An issue's project is the part of its key before the `-`.

/// A project: its issue types `(id, name)`, who may not see it, who may not create in it, and
/// fields its create screen requires (never filled by the appliance: 400 `errors.<field>`).
#[derive(Clone, Debug)]
pub struct FakeProject {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub issue_types: Vec<(String, String)>,
    pub hidden_from: Vec<String>,
    pub no_create: Vec<String>,
    pub required: Vec<(String, String)>,
}

/// An issue created through `POST /rest/api/2/issue`.
#[derive(Clone, Debug)]
pub struct CreatedIssue {
    pub key: String,
    /// The user key behind the bearer token.
    pub creator: String,
    /// The `fields` object as sent.
    pub fields: Value,
}

/// What the fake knows beyond users and issues.
#[derive(Default)]
pub struct JiraWork {
    pub projects: Mutex<Vec<FakeProject>>,
    pub created: Mutex<Vec<CreatedIssue>>,
    /// Descriptions and issue type names of issues, by key (searched by `text ~`).
    pub descriptions: Mutex<HashMap<String, String>>,
    pub issue_types: Mutex<HashMap<String, String>>,
    /// Every search body received.
    pub searches: Mutex<Vec<Value>>,
    /// createmeta page size (0 = 2, so paging is exercised).
    pub createmeta_page: AtomicUsize,
}

impl Jira {
    /// Adds a project with issue types `(id, name)`, hidden from the given user keys.
    pub fn add_project(
        &self,
        id: u64,
        key: &str,
        name: &str,
        types: &[(&str, &str)],
        hidden_from: &[&str],
    ) {
        self.work.projects.lock().unwrap().push(FakeProject {
            id,
            key: key.to_owned(),
            name: name.to_owned(),
            issue_types: types
                .iter()
                .map(|(i, n)| ((*i).to_owned(), (*n).to_owned()))
                .collect(),
            hidden_from: hidden_from.iter().map(|s| (*s).to_owned()).collect(),
            no_create: Vec::new(),
            required: Vec::new(),
        });
    }

    /// The user may see but not create in the project.
    pub fn deny_create(&self, project: &str, user_key: &str) {
        for p in self.work.projects.lock().unwrap().iter_mut() {
            if p.key == project {
                p.no_create.push(user_key.to_owned());
            }
        }
    }

    /// The project's create screen requires `field` (Jira answers 400 with `message`).
    pub fn require_field(&self, project: &str, field: &str, message: &str) {
        for p in self.work.projects.lock().unwrap().iter_mut() {
            if p.key == project {
                p.required.push((field.to_owned(), message.to_owned()));
            }
        }
    }

    /// Issues created so far.
    pub fn created(&self) -> Vec<CreatedIssue> {
        self.work.created.lock().unwrap().clone()
    }

    /// The JQL of every search so far.
    pub fn searched_jql(&self) -> Vec<String> {
        self.work
            .searches
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["jql"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn visible_project(&self, key_or_id: &str, user: &str) -> Option<FakeProject> {
        self.work
            .projects
            .lock()
            .unwrap()
            .iter()
            .find(|p| {
                (p.key.eq_ignore_ascii_case(key_or_id) || p.id.to_string() == key_or_id)
                    && !p.hidden_from.iter().any(|h| h == user)
            })
            .cloned()
    }
}

fn fields_error(errors: Value) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": errors}))
}

async fn projects(req: HttpRequest, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let list: Vec<Value> = fake
        .work
        .projects
        .lock()
        .unwrap()
        .iter()
        .filter(|p| !p.hidden_from.contains(&user.key))
        .map(|p| {
            json!({
                "self": format!("{}/rest/api/2/project/{}", fake.base, p.id),
                "id": p.id.to_string(), "key": p.key, "name": p.name,
                "projectTypeKey": "software",
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

async fn createmeta_issue_types(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
    fake: web::Data<Jira>,
) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Some(project) = fake.visible_project(&path.into_inner(), &user.key) else {
        return rest_error(404, "No project could be found with key or id.");
    };
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let start = get("startAt").unwrap_or(0);
    let page = match fake.work.createmeta_page.load(Ordering::SeqCst) {
        0 => 2,
        n => n,
    };
    let max = get("maxResults").unwrap_or(50).clamp(1, 50).min(page);
    // without Create permission the list is empty (PROTOCOLS.md §7.4)
    let types: Vec<(String, String)> = if project.no_create.contains(&user.key) {
        Vec::new()
    } else {
        project.issue_types.clone()
    };
    let values: Vec<Value> = types
        .iter()
        .skip(start)
        .take(max)
        .map(|(id, name)| {
            json!({
                "self": format!("{}/rest/api/2/issuetype/{id}", fake.base),
                "id": id, "name": name, "subtask": name == "Sub-task",
                "description": "", "iconUrl": format!("{}/images/icons/{id}.png", fake.base),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "startAt": start, "maxResults": max, "total": types.len(),
        "isLast": start + values.len() >= types.len(), "values": values,
    }))
}

async fn create_issue(req: HttpRequest, body: web::Bytes, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return rest_error(400, "Unexpected character: the body is not JSON.");
    };
    let fields = body["fields"].clone();
    let project_ref = fields["project"]["key"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| fields["project"]["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let Some(project) = fake.visible_project(&project_ref, &user.key) else {
        return fields_error(json!({"project": "valid project is required"}));
    };
    if project.no_create.contains(&user.key) {
        return rest_error(
            403,
            "You do not have permission to create issues in this project.",
        );
    }
    let type_ref = |k: &str| fields["issuetype"][k].as_str().map(str::to_owned);
    let Some((_, type_name)) = project.issue_types.iter().find(|(id, name)| {
        type_ref("id").as_deref() == Some(id.as_str())
            || type_ref("name").as_deref() == Some(name.as_str())
    }) else {
        return fields_error(json!({"issuetype": "valid issue type is required"}));
    };
    let mut errors = serde_json::Map::new();
    let summary = fields["summary"].as_str().unwrap_or_default().to_owned();
    if summary.trim().is_empty() {
        errors.insert(
            "summary".into(),
            json!("You must specify a summary of the issue."),
        );
    } else if summary.chars().count() > 255 {
        errors.insert(
            "summary".into(),
            json!("Summary must be less than 255 characters."),
        );
    }
    for (field, message) in &project.required {
        if fields.get(field).is_none() {
            errors.insert(field.clone(), json!(message));
        }
    }
    if !errors.is_empty() {
        return fields_error(Value::Object(errors));
    }
    let (id, key) = {
        let mut issues = fake.issues.lock().unwrap();
        let id = issues
            .values()
            .map(|i| i.id)
            .max()
            .unwrap_or(10000)
            .max(10000)
            + 1;
        let prefix = format!("{}-", project.key);
        let n = issues
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).and_then(|n| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let key = format!("{}{n}", prefix);
        issues.insert(
            key.clone(),
            Issue {
                id,
                key: key.clone(),
                summary: summary.clone(),
                hidden_from: Vec::new(),
            },
        );
        (id, key)
    };
    let description = fields["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    fake.work
        .descriptions
        .lock()
        .unwrap()
        .insert(key.clone(), description);
    fake.work
        .issue_types
        .lock()
        .unwrap()
        .insert(key.clone(), type_name.clone());
    fake.work.created.lock().unwrap().push(CreatedIssue {
        key: key.clone(),
        creator: user.key.clone(),
        fields,
    });
    HttpResponse::Created().json(json!({
        "id": id.to_string(), "key": key,
        "self": format!("{}/rest/api/2/issue/{id}", fake.base),
    }))
}

/// A parsed JQL query: the clauses the fake understands, joined by AND.
#[derive(Debug)]
enum Jql {
    And(Vec<Jql>),
    Eq(String, String),
    Contains(String, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Op(String),
    Word(String),
    Str(String),
}

fn jql_tokens(jql: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err("unterminated escape".into()),
                        },
                        Some(c) if c == quote => break,
                        Some(c) => s.push(c),
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '~' | '!' | '<' | '>' => {
                let mut op = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(c, '=' | '~' | '!' | '<' | '>') {
                        op.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Op(op));
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                        w.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(w));
            }
            c => return Err(format!("the character '{c}' is a reserved JQL character")),
        }
    }
    Ok(out)
}

fn jql_expr(toks: &[Tok], pos: &mut usize) -> Result<Jql, String> {
    let mut terms = vec![jql_term(toks, pos)?];
    while let Some(Tok::Word(w)) = toks.get(*pos) {
        if !w.eq_ignore_ascii_case("AND") {
            return Err(format!("Expecting 'AND' but got '{w}'."));
        }
        *pos += 1;
        terms.push(jql_term(toks, pos)?);
    }
    Ok(Jql::And(terms))
}

fn jql_term(toks: &[Tok], pos: &mut usize) -> Result<Jql, String> {
    match toks.get(*pos) {
        Some(Tok::Open) => {
            *pos += 1;
            let e = jql_expr(toks, pos)?;
            if toks.get(*pos) != Some(&Tok::Close) {
                return Err("Expecting ')'.".into());
            }
            *pos += 1;
            Ok(e)
        }
        Some(Tok::Word(field)) => {
            let field = field.to_ascii_lowercase();
            let op = match toks.get(*pos + 1) {
                Some(Tok::Op(op)) => op.clone(),
                _ => return Err(format!("Expecting an operator after '{field}'.")),
            };
            let value = match toks.get(*pos + 2) {
                Some(Tok::Word(v)) | Some(Tok::Str(v)) => v.clone(),
                _ => return Err(format!("Expecting a value after '{field} {op}'.")),
            };
            *pos += 3;
            match (field.as_str(), op.as_str()) {
                ("project" | "key" | "issue" | "issuekey", "=") => Ok(Jql::Eq(field, value)),
                ("text" | "summary", "~") => Ok(Jql::Contains(field, value)),
                _ => Err(format!(
                    "The operator '{op}' is not supported by the '{field}' field (in this fake)."
                )),
            }
        }
        other => Err(format!("Expecting a field name but got {other:?}.")),
    }
}

fn words_of(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Jira {
    /// Whether the clause holds for the issue; with `validate`, a clause naming an issue or
    /// project the caller cannot see is an error, as on DC.
    fn jql_matches(
        &self,
        q: &Jql,
        issue: &Issue,
        user: &str,
        validate: bool,
    ) -> Result<bool, String> {
        match q {
            Jql::And(all) => {
                let mut ok = true;
                for c in all {
                    ok &= self.jql_matches(c, issue, user, validate)?;
                }
                Ok(ok)
            }
            Jql::Eq(field, value) => {
                if field == "project" {
                    if validate && self.visible_project(value, user).is_none() {
                        return Err(format!(
                            "The value '{value}' does not exist for the field 'project'."
                        ));
                    }
                    let prefix = issue.key.split('-').next().unwrap_or_default();
                    let by_id = self
                        .work
                        .projects
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|p| p.id.to_string() == *value && p.key == prefix);
                    return Ok(prefix.eq_ignore_ascii_case(value) || by_id);
                }
                let named = |i: &Issue| {
                    i.key.eq_ignore_ascii_case(value)
                        || (field != "key" && i.id.to_string() == *value)
                };
                if validate {
                    let visible = self
                        .issues
                        .lock()
                        .unwrap()
                        .values()
                        .any(|i| named(i) && !i.hidden_from.iter().any(|h| h == user));
                    if !visible {
                        return Err(format!(
                            "An issue with key '{value}' does not exist for field '{field}'."
                        ));
                    }
                }
                Ok(named(issue))
            }
            Jql::Contains(field, value) => {
                let mut haystack = words_of(&issue.summary);
                if field == "text"
                    && let Some(d) = self.work.descriptions.lock().unwrap().get(&issue.key)
                {
                    haystack.extend(words_of(d));
                }
                let wanted = words_of(value);
                Ok(!wanted.is_empty() && wanted.iter().all(|w| haystack.contains(w)))
            }
        }
    }
}

async fn search(req: HttpRequest, body: web::Bytes, fake: web::Data<Jira>) -> HttpResponse {
    let user = ok_or_return!(fake.caller(&req));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return rest_error(400, "The request body is not JSON.");
    };
    fake.work.searches.lock().unwrap().push(body.clone());
    let jql = body["jql"].as_str().unwrap_or_default();
    let validate = body["validateQuery"].as_bool().unwrap_or(true);
    let start = body["startAt"].as_u64().unwrap_or(0) as usize;
    let max = body["maxResults"].as_u64().unwrap_or(50).min(1000) as usize;
    let wants = |f: &str| {
        body["fields"]
            .as_array()
            .is_none_or(|a| a.iter().any(|x| x == f || x == "*all" || x == "*navigable"))
    };
    let parsed = jql_tokens(jql).and_then(|toks| {
        let mut pos = 0;
        let q = jql_expr(&toks, &mut pos)?;
        match toks.get(pos) {
            None => Ok(q),
            Some(t) => Err(format!(
                "Expecting either 'AND' or the end of the query but got {t:?}."
            )),
        }
    });
    let q = match parsed {
        Ok(q) => q,
        Err(e) => return rest_error(400, &format!("Error in the JQL Query: {e}")),
    };
    let mut issues: Vec<Issue> = fake
        .issues
        .lock()
        .unwrap()
        .values()
        .filter(|i| !i.hidden_from.contains(&user.key))
        .cloned()
        .collect();
    issues.sort_by_key(|i| std::cmp::Reverse(i.id));
    let mut hits = Vec::new();
    for i in issues {
        match fake.jql_matches(&q, &i, &user.key, validate) {
            Ok(true) => hits.push(i),
            Ok(false) => {}
            Err(e) => {
                return HttpResponse::BadRequest()
                    .json(json!({"errorMessages": [e], "errors": {}}));
            }
        }
    }
    // validation also applies when nothing visible is left to test against
    if hits.is_empty() && validate {
        let probe = Issue {
            id: 0,
            key: String::new(),
            summary: String::new(),
            hidden_from: Vec::new(),
        };
        if let Err(e) = fake.jql_matches(&q, &probe, &user.key, true) {
            return HttpResponse::BadRequest().json(json!({"errorMessages": [e], "errors": {}}));
        }
    }
    let total = hits.len();
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(max)
        .map(|i| {
            let mut fields = serde_json::Map::new();
            if wants("summary") {
                fields.insert("summary".into(), json!(i.summary));
            }
            if wants("status") {
                fields.insert("status".into(), json!({"name": "Open", "id": "1"}));
            }
            if wants("issuetype") {
                let t = fake
                    .work
                    .issue_types
                    .lock()
                    .unwrap()
                    .get(&i.key)
                    .cloned()
                    .unwrap_or_else(|| "Task".into());
                fields.insert("issuetype".into(), json!({"name": t}));
            }
            json!({
                "id": i.id.to_string(), "key": i.key,
                "self": format!("{}/rest/api/2/issue/{}", fake.base, i.id),
                "fields": fields,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "expand": "schema,names", "startAt": start, "maxResults": max, "total": total,
        "issues": page, "warningMessages": [],
    }))
}
