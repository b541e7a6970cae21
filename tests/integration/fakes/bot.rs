//! A fake Bot Connector (PROTOCOLS.md §3.3, §5) on HTTPS: `POST
//! /{region}/v3/conversations/{id}/activities` and `PUT .../activities/{activityId}` (only ids
//! it handed out in that conversation, else 404 `NotFound`) with the bot's app-only token from the fake Entra
//! (audience `https://api.botframework.com`, else 401), conversation ids percent-decoded once,
//! `X-Correlating-OperationId` on every answer, and scriptable failures (403
//! `MessageWritesBlocked` with its string-encoded JSON body, 403 not installed, 413, 429 with
//! `Retry-After`, 412/502/504), a 429 storm (every send in a time window, or a share of sends,
//! answered 429 with `Retry-After`, each one recorded), a steady 30 % of sends answered 429 or
//! 503 in turn (both with `Retry-After`) and an artificial delay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use super::entra::Entra;

/// The audience of Bot Connector tokens in the global cloud.
pub const AUDIENCE: &str = "https://api.botframework.com";

/// A scripted answer for the next send.
#[derive(Debug, Clone)]
pub enum Scripted {
    Blocked,
    NotInstalled,
    TooBig,
    Throttled(u64),
    /// 503 with `Retry-After` (seconds).
    Unavailable(u64),
    Status(u16),
}

/// A 429 storm: sends in the window (from the first send after it was set) or every
/// `every`-th send (at most `left` more times) are throttled.
#[derive(Debug, Clone)]
struct Storm {
    /// The steady 30 % of [`super::in_failing_share`], answered 429 and 503 in turn.
    share: bool,
    window: std::time::Duration,
    started: Option<Instant>,
    every: u64,
    seen: u64,
    left: u64,
    retry_after_secs: u64,
}

/// One signing key: its id, private key (PEM), whether the JWKS lists it, and its endorsements.
type SigningKey = (String, Vec<u8>, bool, Vec<String>);

/// The Bot Framework's signing identity: RS256 keys published with `endorsements`.
pub struct Signer {
    keys: Mutex<Vec<SigningKey>>,
}

impl Signer {
    fn new() -> Signer {
        let key = |kid: &str, published: bool, endorsed: &[&str]| {
            let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
            (
                kid.to_owned(),
                rsa.private_key_to_pem().unwrap(),
                published,
                endorsed.iter().map(|e| (*e).to_owned()).collect(),
            )
        };
        Signer {
            keys: Mutex::new(vec![
                key("bf-key-1", true, &["msteams"]),
                key("bf-unendorsed", true, &["skype"]),
                key("bf-late", false, &["msteams"]),
            ]),
        }
    }

    /// Publishes the key that was held back (a key rotation).
    pub fn publish_late_key(&self) {
        for k in self.keys.lock().unwrap().iter_mut() {
            k.2 = true;
        }
    }

    /// A token signed with key `kid` (published or not).
    pub fn mint(&self, kid: &str, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let (_, pem, _, _) = keys.iter().find(|k| k.0 == kid).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let der = openssl::rsa::Rsa::private_key_from_pem(pem)
            .unwrap()
            .private_key_to_der()
            .unwrap();
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_rsa_der(&der),
        )
        .unwrap()
    }

    fn jwks(&self) -> Value {
        use base64::Engine;
        let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let keys: Vec<Value> = self
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.2)
            .map(|(kid, pem, _, endorsements)| {
                let rsa = openssl::rsa::Rsa::private_key_from_pem(pem).unwrap();
                json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                       "n": b64(rsa.n().to_vec()), "e": b64(rsa.e().to_vec()),
                       "endorsements": endorsements})
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// State of the fake.
pub struct Bot {
    /// Signs inbound activity tokens and publishes the keys.
    pub signer: Signer,
    /// How often the signing keys were fetched.
    pub key_fetches: std::sync::atomic::AtomicUsize,
    /// `https://127.0.0.1:{port}`; service URLs are `{base}/amer/`.
    pub base: String,
    pub entra: web::Data<Entra>,
    /// Every accepted activity: arrival, conversation id (decoded), body.
    pub received: Mutex<Vec<(Instant, String, Value)>>,
    /// Every request, accepted or not: arrival and conversation id.
    pub attempts: Mutex<Vec<(Instant, String)>>,
    script: Mutex<VecDeque<Scripted>>,
    /// Milliseconds to wait before answering.
    pub delay_ms: AtomicU64,
    /// Bodies of accepted `POST /v3/conversations` (proactive 1:1 conversations).
    pub created: Mutex<Vec<Value>>,
    /// The activity ids handed out, per conversation (what `PUT` may replace).
    activities: Mutex<HashMap<String, HashSet<String>>>,
    /// Every accepted update: conversation id (decoded), activity id, body.
    pub updated: Mutex<Vec<(String, String, Value)>>,
    storm: Mutex<Option<Storm>>,
    /// Every 429 (and 503 with `Retry-After`) answered: when, conversation, the wait given.
    pub throttled: Mutex<Vec<(Instant, String, std::time::Duration)>>,
}

impl Bot {
    /// Where the OpenID metadata is (`microsoft.bot_openid_metadata_url`).
    pub fn metadata_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.base)
    }

    /// The service URL Teams would hand out for this fake.
    pub fn service_url(&self) -> String {
        format!("{}/amer/", self.base)
    }

    /// Queues answers for the next sends, in order.
    pub fn script(&self, answers: &[Scripted]) {
        self.script.lock().unwrap().extend(answers.iter().cloned());
    }

    /// Updates accepted for one conversation: activity id and the new body, in order.
    pub fn updated_for(&self, conversation: &str) -> Vec<(String, Value)> {
        self.updated
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _, _)| c == conversation)
            .map(|(_, id, a)| (id.clone(), a.clone()))
            .collect()
    }

    /// The ids of the activities posted to one conversation, in order.
    pub fn posted_ids_for(&self, conversation: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, (_, c, _))| c == conversation)
            .map(|(i, _)| format!("1:{}", i + 1))
            .collect()
    }

    /// Someone deletes the bot's message in Teams: updates of it are answered 404 from now on.
    pub fn delete_message(&self, conversation: &str, activity_id: &str) {
        if let Some(ids) = self.activities.lock().unwrap().get_mut(conversation) {
            ids.remove(activity_id);
        }
    }

    /// Throttles every send for `window` from the next one on, with `Retry-After`.
    pub fn storm_for(&self, window: std::time::Duration, retry_after_secs: u64) {
        *self.storm.lock().unwrap() = Some(Storm {
            share: false,
            window,
            started: None,
            every: 0,
            seen: 0,
            left: u64::MAX,
            retry_after_secs,
        });
    }

    /// Throttles every `every`-th send from now on, `times` times, with `Retry-After`.
    pub fn storm_every(&self, every: u64, times: u64, retry_after_secs: u64) {
        *self.storm.lock().unwrap() = Some(Storm {
            share: false,
            window: std::time::Duration::ZERO,
            started: None,
            every: every.max(1),
            seen: 0,
            left: times,
            retry_after_secs,
        });
    }

    /// Fails 30 % of the sends from now on ([`super::in_failing_share`]): 429 and 503 in turn,
    /// each with `Retry-After`.
    pub fn fail_share(&self, retry_after_secs: u64) {
        *self.storm.lock().unwrap() = Some(Storm {
            share: true,
            window: std::time::Duration::ZERO,
            started: None,
            every: 0,
            seen: 0,
            left: u64::MAX,
            retry_after_secs,
        });
    }

    /// Whether this send falls in the storm: the failure to answer when it does.
    fn storm_hits(&self, now: Instant) -> Option<Scripted> {
        let mut storm = self.storm.lock().unwrap();
        let s = storm.as_mut()?;
        s.seen += 1;
        if s.share {
            let hit = super::in_failing_share(s.seen);
            // the 3s and 9s are throttled, the 6s unavailable
            return hit.then_some(match s.seen % 10 {
                6 => Scripted::Unavailable(s.retry_after_secs),
                _ => Scripted::Throttled(s.retry_after_secs),
            });
        }
        let hit = if s.every > 0 {
            s.seen % s.every == 0
        } else {
            now < *s.started.get_or_insert(now) + s.window
        };
        if !hit || s.left == 0 {
            return None;
        }
        s.left -= 1;
        Some(Scripted::Throttled(s.retry_after_secs))
    }

    /// Activities received for one conversation.
    pub fn received_for(&self, conversation: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c, _)| c == conversation)
            .map(|(_, _, a)| a.clone())
            .collect()
    }
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("X-Correlating-OperationId", "fake-op"))
        .json(json!({"error": {"code": code, "message": message}}))
}

/// The 401 Teams gives without a valid Bot Connector token from the fake Entra.
fn unauthorized(req: &HttpRequest, fake: &Bot) -> Option<HttpResponse> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let issued = token.and_then(|t| fake.entra.tokens.lock().unwrap().get(t).cloned());
    match issued {
        Some(t) if t.oid.is_none() && t.audience == AUDIENCE && t.expires_at > Instant::now() => {
            None
        }
        _ => Some(
            HttpResponse::Unauthorized()
                .json(json!({"message": "Authorization has been denied for this request."})),
        ),
    }
}

/// The next scripted failure, or a 429/503 of a storm (recorded with its `Retry-After`).
fn scripted_failure(fake: &Bot, conversation: &str) -> Option<HttpResponse> {
    let scripted = fake.script.lock().unwrap().pop_front();
    let scripted = scripted.or_else(|| fake.storm_hits(Instant::now()));
    if let Some(Scripted::Throttled(secs) | Scripted::Unavailable(secs)) = scripted {
        fake.throttled.lock().unwrap().push((
            Instant::now(),
            conversation.to_owned(),
            std::time::Duration::from_secs(secs),
        ));
    }
    Some(match scripted? {
        Scripted::Blocked => HttpResponse::Forbidden().json(json!({
            "errorCode": 209,
            "message": "{\"subCode\":\"MessageWritesBlocked\",\"details\":\"Thread is blocked\"}",
        })),
        Scripted::NotInstalled => error(
            403,
            "ForbiddenOperationException",
            "Bot is not part of the conversation roster.",
        ),
        Scripted::TooBig => error(413, "MessageSizeTooBig", "Message size too large."),
        Scripted::Throttled(secs) => HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .json(json!({"error": {"code": "Throttled", "message": "Too many requests."}})),
        Scripted::Unavailable(secs) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", secs.to_string()))
            .insert_header(("X-Correlating-OperationId", "fake-op"))
            .json(json!({"error": {"code": "ServiceUnavailable", "message": "Try again later."}})),
        Scripted::Status(s) => error(s, "ServiceError", "Transient failure."),
    })
}

async fn arrive(fake: &Bot, conversation: &str) {
    fake.attempts
        .lock()
        .unwrap()
        .push((Instant::now(), conversation.to_owned()));
    let delay = fake.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
}

async fn send(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
    fake: web::Data<Bot>,
) -> HttpResponse {
    let (_, raw) = path.into_inner();
    // actix has decoded the segment once already; a double-encoded id would still show `%`
    let conversation = raw;
    arrive(&fake, &conversation).await;
    if let Some(denied) = unauthorized(&req, &fake) {
        return denied;
    }
    if body["type"] != "message" {
        return error(400, "BadArgument", "Activity type is required.");
    }
    if let Some(failure) = scripted_failure(&fake, &conversation) {
        return failure;
    }
    let id = {
        let mut received = fake.received.lock().unwrap();
        let id = format!("1:{}", received.len() + 1);
        received.push((Instant::now(), conversation.clone(), body.into_inner()));
        id
    };
    fake.activities
        .lock()
        .unwrap()
        .entry(conversation)
        .or_default()
        .insert(id.clone());
    HttpResponse::Ok()
        .insert_header(("X-Correlating-OperationId", "fake-op"))
        .json(json!({ "id": id }))
}

/// `PUT /{region}/v3/conversations/{id}/activities/{activityId}`: replaces an activity this
/// fake handed out in that conversation; 404 `NotFound` for any other id.
async fn update(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: web::Json<Value>,
    fake: web::Data<Bot>,
) -> HttpResponse {
    let (_, conversation, activity) = path.into_inner();
    arrive(&fake, &conversation).await;
    if let Some(denied) = unauthorized(&req, &fake) {
        return denied;
    }
    if body["type"] != "message" {
        return error(400, "BadArgument", "Activity type is required.");
    }
    if let Some(failure) = scripted_failure(&fake, &conversation) {
        return failure;
    }
    let known = fake
        .activities
        .lock()
        .unwrap()
        .get(&conversation)
        .is_some_and(|ids| ids.contains(&activity));
    if !known {
        return error(404, "NotFound", "The activity was not found.");
    }
    fake.updated
        .lock()
        .unwrap()
        .push((conversation, activity.clone(), body.into_inner()));
    HttpResponse::Ok()
        .insert_header(("X-Correlating-OperationId", "fake-op"))
        .json(json!({ "id": activity }))
}

/// `POST /v3/conversations` (PROTOCOLS.md §3.4): needs the bot, one member and the tenant in
/// `channelData`; answers the same `a:` id for the same user. A scripted `NotInstalled` is the
/// 403 Teams gives when the app is not installed for the user.
async fn create_conversation(
    req: HttpRequest,
    body: web::Json<Value>,
    fake: web::Data<Bot>,
) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let issued = token.and_then(|t| fake.entra.tokens.lock().unwrap().get(t).cloned());
    if !issued.is_some_and(|t| t.oid.is_none() && t.audience == AUDIENCE) {
        return HttpResponse::Unauthorized()
            .json(json!({"message": "Authorization has been denied for this request."}));
    }
    let member = body["members"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !body["bot"]["id"]
        .as_str()
        .is_some_and(|b| b.starts_with("28:"))
        || member.is_empty()
        || body["channelData"]["tenant"]["id"].as_str().is_none()
    {
        return error(400, "BadArgument", "Bot, members and tenant are required.");
    }
    if let Some(Scripted::NotInstalled) = {
        let mut script = fake.script.lock().unwrap();
        matches!(script.front(), Some(Scripted::NotInstalled))
            .then(|| script.pop_front())
            .flatten()
    } {
        return error(
            403,
            "ForbiddenOperationException",
            "Bot is not installed in user's personal scope",
        );
    }
    fake.created.lock().unwrap().push(body.into_inner());
    HttpResponse::Created()
        .insert_header(("X-Correlating-OperationId", "fake-op"))
        .json(json!({ "id": format!("a:personal-{member}") }))
}

/// Starts the fake over HTTPS with the given certificate (the appliance only calls https).
pub fn start_tls(
    entra: web::Data<Entra>,
    cert_pem_path: &str,
    key_pem_path: &str,
) -> (SocketAddr, web::Data<Bot>) {
    let tls = jira_teams_bridge::config::load_tls(cert_pem_path, key_pem_path).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = web::Data::new(Bot {
        signer: Signer::new(),
        key_fetches: Default::default(),
        base: format!("https://{addr}"),
        entra,
        received: Mutex::default(),
        attempts: Mutex::default(),
        script: Mutex::default(),
        delay_ms: AtomicU64::new(0),
        created: Mutex::default(),
        activities: Mutex::default(),
        updated: Mutex::default(),
        storm: Mutex::default(),
        throttled: Mutex::default(),
    });
    let f = fake.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(f.clone())
            .route(
                "/{region}/v3/conversations/{id}/activities",
                web::post().to(send),
            )
            .route(
                "/{region}/v3/conversations/{id}/activities/{activity}",
                web::put().to(update),
            )
            .route(
                "/{region}/v3/conversations",
                web::post().to(create_conversation),
            )
            .route(
                "/v1/.well-known/openidconfiguration",
                web::get().to(|fake: web::Data<Bot>| async move {
                    HttpResponse::Ok().json(json!({
                        "issuer": "https://api.botframework.com",
                        "authorization_endpoint": "https://invalid.botframework.com",
                        "jwks_uri": format!("{}/v1/.well-known/keys", fake.base),
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    }))
                }),
            )
            .route(
                "/v1/.well-known/keys",
                web::get().to(|fake: web::Data<Bot>| async move {
                    fake.key_fetches.fetch_add(1, Ordering::SeqCst);
                    HttpResponse::Ok().json(fake.signer.jwks())
                }),
            )
    })
    .workers(2)
    .listen_rustls_0_23(listener, tls)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (addr, fake)
}
