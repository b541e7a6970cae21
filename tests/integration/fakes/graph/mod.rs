//! A fake Microsoft Graph `/v1.0` for Teams chats on loopback, PROTOCOLS.md §2, §5 and §6.6.
//!
//! Reproduces: bearer authentication against the fake Entra's token registry (401
//! `InvalidAuthenticationToken`), `POST /chats` with member validation (`@odata.type`, roles,
//! `user@odata.bind` on THIS fake's host, caller included) and idempotent oneOnOne ids,
//! `GET /chats/{id}` (`$expand=members`), message listing newest first with `$top <= 50` and an
//! absolute `@odata.nextLink` carrying an opaque `$skiptoken`, message posting (delegated members
//! only; `<attachment id>` tags must match `attachments[].id`, `content` a string), app
//! installation into chats (201 / 409 / 404), `/me`, JSON batching (`$batch`), raw or
//! percent-encoded chat ids, scripted 429 throttling with `Retry-After`, and a steady 30 % of
//! requests answered 429 or 503 in turn (with `Retry-After`, each refusal recorded). Every
//! request (batch items included) is logged with its arrival time and its `Prefer` header.
//! Like Graph, messages are answered with `messageType` `unknownFutureValue` for system events
//! unless the request says `Prefer: include-unknown-enum-members` (then `systemEventMessage`);
//! `eventDetail` is there either way.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::entra::{Entra, TENANT_ID, User};

const MEMBER_TYPE: &str = "#microsoft.graph.aadUserConversationMember";

/// A chat member: object id and role.
#[derive(Clone, Debug)]
pub struct Member {
    pub oid: String,
    pub role: String,
}

/// A chat as the fake stores it; messages in creation order.
#[derive(Clone, Debug)]
pub struct Chat {
    pub id: String,
    pub chat_type: String,
    pub topic: Option<String>,
    pub created: DateTime<Utc>,
    pub members: Vec<Member>,
    pub messages: Vec<Value>,
    pub installed_apps: HashSet<String>,
}

/// State of the fake.
pub struct Graph {
    /// `http(s)://127.0.0.1:{port}`: the Graph root; `user@odata.bind` must use it.
    pub base: String,
    /// The identity provider whose tokens are accepted.
    pub entra: web::Data<Entra>,
    /// When set, tokens for another audience are refused (401), as a cloud mix-up would be.
    pub audience: Mutex<Option<String>>,
    /// Chats by id.
    pub chats: Mutex<HashMap<String, Chat>>,
    /// Org-catalog app ids that can be installed into chats.
    pub catalog_apps: Mutex<HashSet<String>>,
    /// Successful installs: (chat id, catalog id).
    pub installs: Mutex<Vec<(String, String)>>,
    /// Every request: arrival time, method, path and query as sent.
    pub requests: Mutex<Vec<(Instant, String, String)>>,
    /// Every request's path and query with its `Prefer` header values (comma-joined), if any.
    pub prefers: Mutex<Vec<(String, Option<String>)>>,
    /// Scripted throttling: (requests left to refuse, Retry-After seconds).
    throttle: Mutex<(usize, u64)>,
    /// A steady share of failures: (requests seen since it was set, Retry-After seconds).
    share: Mutex<Option<(u64, u64)>>,
    /// Every refusal of the steady share: arrival, path and query, status, the wait given.
    pub refused: Mutex<Vec<(Instant, String, u16, std::time::Duration)>>,
    /// Last message timestamp handed out, milliseconds; keeps ids and dates strictly increasing.
    clock_ms: AtomicI64,
}

/// An error response a helper hands back for the handler to return (boxed: responses are big).
type Refusal = Box<HttpResponse>;

/// Who is calling: the token's user, or `None` for an app-only token.
struct Caller {
    oid: Option<String>,
}

/// A Graph error response: `{"error":{"code","message","innerError":{...}}}`.
pub fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": inner_error(),
        }
    }))
}

fn inner_error() -> Value {
    json!({
        "date": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "request-id": uuid::Uuid::new_v4().to_string(),
        "client-request-id": uuid::Uuid::new_v4().to_string(),
    })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Percent-decodes once. `%2540` stays `%40`: Graph never double-decodes a chat id.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How Graph writes a chat id inside URLs it generates.
fn encode_chat_id(id: &str) -> String {
    id.replace(':', "%3A").replace('@', "%40")
}

/// The chat id segment of `/v1.0/chats/{id}/...`, taken from the raw request path so that the
/// fake decides the decoding (exactly once), not the router.
fn chat_id(req: &HttpRequest) -> String {
    percent_decode(req.uri().path().split('/').nth(3).unwrap_or_default())
}

impl Graph {
    fn new(base: String, entra: web::Data<Entra>) -> Self {
        Self {
            base,
            entra,
            audience: Mutex::default(),
            chats: Mutex::default(),
            catalog_apps: Mutex::default(),
            installs: Mutex::default(),
            requests: Mutex::default(),
            prefers: Mutex::default(),
            throttle: Mutex::default(),
            share: Mutex::default(),
            refused: Mutex::default(),
            clock_ms: AtomicI64::new(0),
        }
    }

    /// The next `n` requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        *self.throttle.lock().unwrap() = (n, retry_after_secs);
    }

    /// Fails 30 % of the requests from now on ([`super::in_failing_share`]): 429 and 503 in
    /// turn, each with `Retry-After: retry_after_secs`.
    pub fn fail_share(&self, retry_after_secs: u64) {
        *self.share.lock().unwrap() = Some((0, retry_after_secs));
    }

    /// Whether this request falls in the steady share: its status and `Retry-After` if so.
    fn share_hits(&self) -> Option<(u16, u64)> {
        let mut share = self.share.lock().unwrap();
        let (seen, secs) = share.as_mut()?;
        *seen += 1;
        super::in_failing_share(*seen).then_some((if *seen % 10 == 6 { 503 } else { 429 }, *secs))
    }

    /// Member object ids of a chat (empty when unknown).
    pub fn chat_members(&self, chat_id: &str) -> Vec<String> {
        self.chats
            .lock()
            .unwrap()
            .get(chat_id)
            .map(|c| c.members.iter().map(|m| m.oid.clone()).collect())
            .unwrap_or_default()
    }

    /// Messages of a chat in creation order (oldest first).
    pub fn messages(&self, chat_id: &str) -> Vec<Value> {
        self.chats
            .lock()
            .unwrap()
            .get(chat_id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Creates a chat without going through the API: a group chat (with `topic`) unless exactly
    /// two members and no topic, which makes the oneOnOne chat of that pair. All owners.
    pub fn create_chat_directly(&self, members: &[&str], topic: Option<&str>) -> String {
        let one_on_one = members.len() == 2 && topic.is_none();
        let id = if one_on_one {
            one_on_one_id(members[0], members[1])
        } else {
            group_id()
        };
        let chat = Chat {
            id: id.clone(),
            chat_type: if one_on_one { "oneOnOne" } else { "group" }.to_owned(),
            topic: topic.map(str::to_owned),
            created: Utc::now(),
            members: members
                .iter()
                .map(|m| Member {
                    oid: (*m).to_owned(),
                    role: "owner".to_owned(),
                })
                .collect(),
            messages: Vec::new(),
            installed_apps: HashSet::new(),
        };
        self.chats.lock().unwrap().entry(id.clone()).or_insert(chat);
        id
    }

    /// Creates a group chat with a given id (a conversation id an activity fixture names), as
    /// Teams would have made it when the users started it; all owners.
    pub fn add_group_chat(&self, id: &str, members: &[&str], topic: Option<&str>) {
        let chat = Chat {
            id: id.to_owned(),
            chat_type: "group".to_owned(),
            topic: topic.map(str::to_owned),
            created: Utc::now(),
            members: members
                .iter()
                .map(|m| Member {
                    oid: (*m).to_owned(),
                    role: "owner".to_owned(),
                })
                .collect(),
            messages: Vec::new(),
            installed_apps: HashSet::new(),
        };
        self.chats.lock().unwrap().insert(id.to_owned(), chat);
    }

    /// Adds `n` user messages from `from_oid`, bodies `<p>message {i}</p>` (i from 1), each
    /// created after the previous one.
    pub fn seed_messages(&self, chat_id: &str, n: usize, from_oid: &str) {
        let user = self.entra.find_user(from_oid).unwrap_or(User {
            oid: from_oid.to_owned(),
            upn: format!("{from_oid}@example.com"),
            name: from_oid.to_owned(),
        });
        for i in 1..=n {
            let message = self.message(
                chat_id,
                Some(&user),
                json!({"contentType": "html", "content": format!("<p>message {i}</p>")}),
                json!([]),
                json!([]),
            );
            self.push_message(chat_id, message);
        }
    }

    /// Deletes a chat, as a Teams admin can: from now on Graph answers 404 for it.
    pub fn delete_chat(&self, chat_id: &str) {
        self.chats.lock().unwrap().remove(chat_id);
    }

    /// A member leaves a chat: from now on Graph answers 403 to their reads and posts.
    pub fn remove_member(&self, chat_id: &str, oid: &str) {
        if let Some(c) = self.chats.lock().unwrap().get_mut(chat_id) {
            c.members.retain(|m| m.oid != oid);
        }
    }

    /// Edits message `index` (0 = oldest) as Teams records it: `lastEditedDateTime` set.
    pub fn mark_edited(&self, chat_id: &str, index: usize) {
        let at = stamp(self.tick());
        let mut chats = self.chats.lock().unwrap();
        let m = &mut chats.get_mut(chat_id).unwrap().messages[index];
        m["lastEditedDateTime"] = json!(at);
        m["lastModifiedDateTime"] = json!(at);
    }

    /// Deletes message `index` (0 = oldest) as Graph shows it afterwards: `deletedDateTime` set
    /// and the body emptied.
    pub fn mark_deleted(&self, chat_id: &str, index: usize) {
        let at = stamp(self.tick());
        let mut chats = self.chats.lock().unwrap();
        let m = &mut chats.get_mut(chat_id).unwrap().messages[index];
        m["deletedDateTime"] = json!(at);
        m["body"] = json!({"contentType": "html", "content": ""});
    }

    /// Adds a system event (a chat rename): `messageType` `systemEventMessage`, `from` null.
    pub fn add_system_event(&self, chat_id: &str) {
        let mut message = self.message(
            chat_id,
            None,
            json!({"contentType": "html", "content": "<systemEventMessage/>"}),
            json!([]),
            json!([]),
        );
        message["messageType"] = json!("systemEventMessage");
        message["eventDetail"] = json!({
            "@odata.type": "#microsoft.graph.chatRenamedEventMessageDetail",
            "chatDisplayName": "Renamed",
        });
        self.push_message(chat_id, message);
    }

    /// Adds the messages of a Graph list page (`value[]`, as Graph returns them when asked with
    /// `Prefer: include-unknown-enum-members`) to a chat, as they are: ids, dates, senders
    /// (users, apps), bodies, attachments and event details. `chatId` is set to the chat's.
    pub fn seed_page(&self, chat_id: &str, page: &Value) {
        for m in page["value"].as_array().expect("a Graph page has value[]") {
            let mut m = m.clone();
            m["chatId"] = json!(chat_id);
            self.push_message(chat_id, m);
        }
    }

    fn push_message(&self, chat_id: &str, message: Value) {
        // Seeding a chat that does not exist is a mistake in the test: say so loudly.
        self.chats
            .lock()
            .unwrap()
            .get_mut(chat_id)
            .unwrap_or_else(|| panic!("fake Graph: no chat {chat_id}"))
            .messages
            .push(message);
    }

    /// A strictly increasing "now" in milliseconds, so message ids and dates never tie.
    fn tick(&self) -> DateTime<Utc> {
        let now = Utc::now().timestamp_millis();
        let prev = self
            .clock_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .unwrap();
        DateTime::from_timestamp_millis(now.max(prev + 1)).unwrap()
    }

    fn message(
        &self,
        chat_id: &str,
        from: Option<&User>,
        body: Value,
        attachments: Value,
        mentions: Value,
    ) -> Value {
        let at = self.tick();
        let id = at.timestamp_millis().to_string();
        json!({
            "id": id,
            "replyToId": null,
            "etag": id,
            "messageType": "message",
            "createdDateTime": stamp(at),
            "lastModifiedDateTime": stamp(at),
            "lastEditedDateTime": null,
            "deletedDateTime": null,
            "subject": null,
            "summary": null,
            "chatId": chat_id,
            "importance": "normal",
            "locale": "en-us",
            "webUrl": null,
            "channelIdentity": null,
            "from": from.map(|u| json!({
                "application": null,
                "device": null,
                "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                    "id": u.oid,
                    "displayName": u.name,
                    "userIdentityType": "aadUser",
                    "tenantId": TENANT_ID,
                }
            })),
            "body": body,
            "attachments": attachments,
            "mentions": mentions,
            "reactions": [],
        })
    }

    /// Authenticates the bearer token against the fake Entra's registry.
    fn caller(&self, req: &HttpRequest) -> Result<Caller, Refusal> {
        let unauthorized = |m: &str| Err(Box::new(error(401, "InvalidAuthenticationToken", m)));
        let Some(token) = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
        else {
            return unauthorized("Access token is empty.");
        };
        let Some(issued) = self.entra.tokens.lock().unwrap().get(token).cloned() else {
            return unauthorized("IDX14100: JWT is not well formed.");
        };
        if issued.revoked {
            return unauthorized("Access token has been revoked.");
        }
        if issued.expires_at <= Instant::now() {
            return unauthorized("Lifetime validation failed, the token is expired.");
        }
        if let Some(aud) = self.audience.lock().unwrap().as_deref()
            && aud != issued.audience
        {
            return unauthorized("Invalid audience.");
        }
        Ok(Caller { oid: issued.oid })
    }

    fn chat_json(&self, chat: &Chat, expand_members: bool) -> Value {
        let mut v = json!({
            "@odata.context": format!("{}/v1.0/$metadata#chats/$entity", self.base),
            "id": chat.id,
            "topic": chat.topic,
            "createdDateTime": stamp(chat.created),
            "lastUpdatedDateTime": stamp(chat.created),
            "chatType": chat.chat_type,
            "webUrl": format!(
                "https://teams.microsoft.com/l/chat/{}/0?tenantId={TENANT_ID}",
                encode_chat_id(&chat.id)
            ),
            "tenantId": TENANT_ID,
            "onlineMeetingInfo": null,
            "viewpoint": null,
        });
        if expand_members {
            v["members"] = json!(self.member_values(chat));
        }
        v
    }

    /// A chat's members as Graph lists them (`aadUserConversationMember` entries).
    fn member_values(&self, chat: &Chat) -> Vec<Value> {
        chat.members
            .iter()
            .map(|m| {
                let user = self.entra.find_user(&m.oid);
                json!({
                    "@odata.type": MEMBER_TYPE,
                    "id": URL_SAFE_NO_PAD.encode(format!("{}##{}", chat.id, m.oid)),
                    "roles": [m.role],
                    "displayName": user.as_ref().map(|u| u.name.clone()),
                    "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
                    "userId": m.oid,
                    "email": user.as_ref().map(|u| u.upn.clone()),
                    "tenantId": TENANT_ID,
                })
            })
            .collect()
    }
}

fn one_on_one_id(a: &str, b: &str) -> String {
    // Sorted so that the same pair always gives the same chat, whoever asks.
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    format!("19:{a}_{b}@unq.gbl.spaces")
}

fn group_id() -> String {
    format!("19:{}@thread.v2", uuid::Uuid::new_v4().simple())
}

/// Logs every request, then answers 429 while scripted throttling lasts.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse, actix_web::Error> {
    let fake = req.app_data::<web::Data<Graph>>().unwrap().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    fake.requests
        .lock()
        .unwrap()
        .push((Instant::now(), req.method().to_string(), path.clone()));
    let prefer: Vec<&str> = req
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .collect();
    fake.prefers.lock().unwrap().push((
        path.clone(),
        (!prefer.is_empty()).then(|| prefer.join(", ")),
    ));
    let retry_after = {
        let mut t = fake.throttle.lock().unwrap();
        (t.0 > 0).then(|| {
            t.0 -= 1;
            t.1
        })
    };
    if let Some((status, secs)) = fake.share_hits() {
        fake.refused.lock().unwrap().push((
            Instant::now(),
            path,
            status,
            std::time::Duration::from_secs(secs),
        ));
        let (code, message) = match status {
            429 => ("TooManyRequests", "Please retry again later."),
            _ => (
                "ServiceNotAvailable",
                "The service is temporarily unavailable.",
            ),
        };
        let res = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .insert_header(("Retry-After", secs.to_string()))
            .json(
                json!({"error": {"code": code, "message": message, "innerError": inner_error()}}),
            );
        return Ok(req.into_response(res));
    }
    if let Some(secs) = retry_after {
        let mut inner = inner_error();
        inner["code"] = json!("429");
        let res = HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .json(json!({"error": {
                "code": "TooManyRequests",
                "message": "Please retry again later.",
                "innerError": inner,
            }}));
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Unwraps a `Result<T, HttpResponse>` or returns the error response from the handler.
macro_rules! ok_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(res) => return *res,
        }
    };
}

mod batch;
mod chats;

use batch::*;
use chats::*;

fn app(
    fake: web::Data<Graph>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(fake)
        .wrap(from_fn(gate))
        .route("/v1.0/me", web::get().to(me))
        .route("/v1.0/$batch", web::post().to(batch))
        .route("/v1.0/chats", web::post().to(create_chat))
        .route("/v1.0/chats/{id}", web::get().to(get_chat))
        .route("/v1.0/chats/{id}/messages", web::get().to(list_messages))
        .route("/v1.0/chats/{id}/members", web::get().to(list_members))
        .route("/v1.0/chats/{id}/messages", web::post().to(post_message))
        .route(
            "/v1.0/chats/{id}/installedApps",
            web::post().to(install_app),
        )
        .default_service(web::to(|| async {
            error(400, "BadRequest", "Resource not found for the segment.")
        }))
}

/// Starts the fake over plain HTTP on a loopback port.
pub fn start(entra: web::Data<Entra>) -> (SocketAddr, web::Data<Graph>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = web::Data::new(Graph::new(format!("http://{addr}"), entra));
    let f = fake.clone();
    let server = HttpServer::new(move || app(f.clone()))
        .workers(1)
        .listen(listener)
        .unwrap();
    actix_web::rt::spawn(server.run());
    (addr, fake)
}

/// Starts the fake over HTTPS with the given PEM certificate and key (e.g. from
/// `listeners::self_signed`), so proxies and root-certificate settings can be exercised.
pub fn start_tls(
    entra: web::Data<Entra>,
    cert_pem_path: &str,
    key_pem_path: &str,
) -> (SocketAddr, web::Data<Graph>) {
    let tls = jira_teams_bridge::config::load_tls(cert_pem_path, key_pem_path).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = web::Data::new(Graph::new(format!("https://{addr}"), entra));
    let f = fake.clone();
    let server = HttpServer::new(move || app(f.clone()))
        .workers(1)
        .listen_rustls_0_23(listener, tls)
        .unwrap();
    actix_web::rt::spawn(server.run());
    (addr, fake)
}
