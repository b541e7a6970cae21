//! A fake Entra ID (Microsoft identity platform v2.0) on loopback, PROTOCOLS.md §1 and §5.
//!
//! Reproduces:
//! - client credentials: tenant authority required (`/common` refused with AADSTS9001023),
//!   scope `<resource>/.default`, secret checked (AADSTS7000215), configurable `expires_in`,
//!   calls counted;
//! - certificate client authentication on every grant: a `client_assertion` verified against
//!   the registered certificate (`fakes::entra_assertion`), AADSTS700027 when it does not hold;
//! - the delegated flow: `/authorize` (PKCE S256 required, `state` echoed, scripted refusals),
//!   `authorization_code` redemption (secret, single-use code AADSTS54005, byte-equal
//!   `redirect_uri`, PKCE verifier AADSTS501481), RS256 `id_token` with a published JWKS,
//!   `refresh_token` (a new RT every time; the old one stays usable, as Entra does), revocation
//!   (AADSTS50173) and scripted refresh failures (65001, 700082, 50076, 7000222, ...);
//! - a registry of every access token issued, so the fake Graph can authenticate bearers.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::entra_assertion;

/// The registered app the fake knows.
pub const CLIENT_ID: &str = "0e3419f7-4c4d-47e7-b98a-7b9b9de02b80";
/// Its secret.
pub const CLIENT_SECRET: &str = "fake~client~secret~value";
/// The one tenant every fake user lives in (`tid` of delegated tokens and id_tokens).
pub const TENANT_ID: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
/// `kid` of the fake's signing key, in the id_token header and the JWKS.
pub const KID: &str = "fake-entra-key-1";
/// Graph's resource: unprefixed scopes (`Chat.ReadWrite`) resolve to it.
const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// An access token the fake handed out; the fake Graph looks bearers up here.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The signed-in user's object id; `None` for an app-only (client credentials) token.
    pub oid: Option<String>,
    pub tid: String,
    pub expires_at: Instant,
    pub revoked: bool,
    /// The resource the token is for, e.g. `https://graph.microsoft.com`.
    pub audience: String,
}

/// A user of the fake tenant.
#[derive(Clone, Debug)]
pub struct User {
    pub oid: String,
    pub upn: String,
    pub name: String,
}

/// What `/authorize` granted, waiting to be redeemed at `/token`.
struct Grant {
    oid: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    scope: String,
    used: bool,
}

/// A refresh token's owner and grant.
struct RefreshGrant {
    oid: String,
    scope: String,
    revoked: bool,
}

/// An RSA key pair: the PKCS#1 DER private key for signing, modulus and exponent for the JWKS.
struct RsaKey {
    encoding: EncodingKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    fn generate() -> Self {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        Self {
            encoding: EncodingKey::from_rsa_der(&rsa.private_key_to_der().unwrap()),
            n: rsa.n().to_vec(),
            e: rsa.e().to_vec(),
        }
    }
}

/// State of the fake.
pub struct Entra {
    /// `http://127.0.0.1:{port}`: authority host, and the `iss` prefix of id_tokens.
    pub base: String,
    /// Every `/token` call, whatever the grant.
    pub token_calls: AtomicUsize,
    /// Lifetime of client-credentials tokens, seconds.
    pub expires_in: AtomicU64,
    /// The form of the latest `/token` call.
    pub last_form: Mutex<Vec<(String, String)>>,
    /// Every access token issued (app-only and delegated), by token string.
    pub tokens: Mutex<HashMap<String, IssuedToken>>,
    /// Users by object id.
    pub users: Mutex<HashMap<String, User>>,
    /// Who "signs in" at the next `/authorize` (by object id).
    pub signed_in: Mutex<Option<String>>,
    /// The query of the latest `/authorize`, in order.
    pub last_authorize: Mutex<Vec<(String, String)>>,
    /// When set, `/authorize` redirects back with this `error` (e.g. `access_denied`).
    pub authorize_error: Mutex<Option<String>>,
    /// When non-empty, `/authorize` only accepts these redirect URIs (AADSTS50011 otherwise).
    pub redirect_uris: Mutex<Vec<String>>,
    /// Lifetime of delegated access tokens, seconds (default 3599).
    pub user_expires_in: AtomicU64,
    /// `grant_type=refresh_token` calls that passed client authentication.
    pub refresh_calls: AtomicUsize,
    /// How often each refresh token was presented.
    pub rt_uses: Mutex<HashMap<String, usize>>,
    /// Scripted refresh failure: (HTTP status, `error`, AADSTS code). Stays until cleared.
    pub refresh_error: Mutex<Option<(u16, String, u64)>>,
    /// Artificial delay before `/token` answers, so concurrency tests can overlap calls.
    pub token_delay_ms: AtomicU64,
    /// The certificate (PEM, no key) registered on the app: client assertions must be signed
    /// with its key. `None`: no certificate registered, every assertion is refused.
    pub client_certificate: Mutex<Option<Vec<u8>>>,
    /// `jti`s of accepted client assertions (each is accepted once).
    jtis: Mutex<HashSet<String>>,
    codes: Mutex<HashMap<String, Grant>>,
    refresh_tokens: Mutex<HashMap<String, RefreshGrant>>,
    key: RsaKey,
}

/// The "attacker" key: shared by all fakes, never published in any JWKS.
fn foreign_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(RsaKey::generate)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A random opaque value: `bytes` random bytes, base64url.
fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    URL_SAFE_NO_PAD.encode(buf)
}

/// `BASE64URL-NOPAD(SHA256(verifier))`, RFC 7636 S256.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

impl Entra {
    fn new(base: String, expires_in: u64) -> Self {
        Self {
            base,
            token_calls: AtomicUsize::new(0),
            expires_in: AtomicU64::new(expires_in),
            last_form: Mutex::default(),
            tokens: Mutex::default(),
            users: Mutex::default(),
            signed_in: Mutex::default(),
            last_authorize: Mutex::default(),
            authorize_error: Mutex::default(),
            redirect_uris: Mutex::default(),
            user_expires_in: AtomicU64::new(3599),
            refresh_calls: AtomicUsize::new(0),
            rt_uses: Mutex::default(),
            refresh_error: Mutex::default(),
            token_delay_ms: AtomicU64::new(0),
            client_certificate: Mutex::default(),
            jtis: Mutex::default(),
            codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
            key: RsaKey::generate(),
        }
    }

    /// Adds a user to the tenant.
    pub fn add_user(&self, oid: &str, upn: &str, name: &str) {
        self.users.lock().unwrap().insert(
            oid.to_owned(),
            User {
                oid: oid.to_owned(),
                upn: upn.to_owned(),
                name: name.to_owned(),
            },
        );
    }

    /// Makes `oid` the user who signs in at the next `/authorize`.
    pub fn sign_in_as(&self, oid: &str) {
        *self.signed_in.lock().unwrap() = Some(oid.to_owned());
    }

    /// Looks a user up by object id or (case-insensitively) by UPN, as Graph's `users('..')` does.
    pub fn find_user(&self, oid_or_upn: &str) -> Option<User> {
        let users = self.users.lock().unwrap();
        users.get(oid_or_upn).cloned().or_else(|| {
            users
                .values()
                .find(|u| u.upn.eq_ignore_ascii_case(oid_or_upn))
                .cloned()
        })
    }

    /// Revokes everything the user holds ("revoke sessions"): access and refresh tokens.
    pub fn revoke_user(&self, oid: &str) {
        for t in self.tokens.lock().unwrap().values_mut() {
            if t.oid.as_deref() == Some(oid) {
                t.revoked = true;
            }
        }
        for rt in self.refresh_tokens.lock().unwrap().values_mut() {
            if rt.oid == oid {
                rt.revoked = true;
            }
        }
    }

    /// Signs `claims` as an id_token with the fake's published key (`kid` = [`KID`]); tests use
    /// it to forge tampered-but-validly-signed tokens.
    pub fn mint_id_token(&self, claims: Value) -> String {
        sign(&self.key, claims)
    }

    /// Signs `claims` with a key that is not in the JWKS but carries the same `kid`, as an
    /// attacker would.
    pub fn mint_id_token_with_foreign_key(&self, claims: Value) -> String {
        sign(foreign_key(), claims)
    }

    /// The issuer of this fake's id_tokens for the tenant.
    pub fn issuer(&self) -> String {
        format!("{}/{TENANT_ID}/v2.0", self.base)
    }

    fn id_token(&self, user: &User, nonce: Option<&str>) -> String {
        let now = now_secs();
        // `sub` is pairwise per app in Entra; derive it so it differs from `oid`.
        let sub = URL_SAFE_NO_PAD
            .encode(&openssl::sha::sha256(format!("{}:{CLIENT_ID}", user.oid).as_bytes())[..24]);
        let mut claims = json!({
            "iss": self.issuer(),
            "aud": CLIENT_ID,
            "tid": TENANT_ID,
            "oid": user.oid,
            "sub": sub,
            "preferred_username": user.upn,
            "name": user.name,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "ver": "2.0",
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.mint_id_token(claims)
    }

    fn register_token(&self, oid: Option<&str>, tid: &str, audience: &str, secs: u64) -> String {
        let kind = if oid.is_some() { "user" } else { "app" };
        // The `eyJ...` prefix keeps app tokens looking like what existing tests expect; the
        // random middle makes every token unique.
        let token = format!("eyJ0eXAiOiJKV1QifQ.fake-{kind}-token-{}.sig", random(24));
        self.tokens.lock().unwrap().insert(
            token.clone(),
            IssuedToken {
                oid: oid.map(str::to_owned),
                tid: tid.to_owned(),
                expires_at: Instant::now() + Duration::from_secs(secs),
                revoked: false,
                audience: audience.to_owned(),
            },
        );
        token
    }

    fn new_refresh_token(&self, oid: &str, scope: &str) -> String {
        // Entra refresh tokens are long opaque strings starting `0.A`; 48 random bytes is plenty.
        let rt = format!("0.A{}", random(48));
        self.refresh_tokens.lock().unwrap().insert(
            rt.clone(),
            RefreshGrant {
                oid: oid.to_owned(),
                scope: scope.to_owned(),
                revoked: false,
            },
        );
        rt
    }

    /// The delegated token response for `oid`: access token always, refresh token when
    /// `offline_access` was granted, id_token when `openid` was.
    fn user_tokens(&self, user: &User, scope: &str, nonce: Option<&str>) -> HttpResponse {
        let secs = self.user_expires_in.load(Ordering::SeqCst);
        let at = self.register_token(Some(&user.oid), TENANT_ID, &audience_of(scope), secs);
        let scopes: Vec<&str> = scope.split_whitespace().collect();
        // Entra lists the granted resource scopes plus openid/profile/email, not offline_access.
        let granted: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| *s != "offline_access")
            .collect();
        let mut body = json!({
            "token_type": "Bearer",
            "scope": granted.join(" "),
            "expires_in": secs,
            "ext_expires_in": secs,
            "access_token": at,
        });
        if scopes.contains(&"offline_access") {
            body["refresh_token"] = json!(self.new_refresh_token(&user.oid, scope));
        }
        if scopes.contains(&"openid") {
            body["id_token"] = json!(self.id_token(user, nonce));
        }
        HttpResponse::Ok().json(body)
    }
}

fn sign(key: &RsaKey, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

/// The resource a delegated scope string is for: the host of the first fully-qualified scope
/// (`https://host/Scope`), else Graph, which unprefixed names resolve to.
fn audience_of(scope: &str) -> String {
    scope
        .split_whitespace()
        .find_map(|s| {
            let rest = s.strip_prefix("https://").or(s.strip_prefix("http://"))?;
            let host_end = rest.find('/')?;
            Some(s[..s.len() - rest.len() + host_end].to_owned())
        })
        .unwrap_or_else(|| GRAPH_RESOURCE.to_owned())
}

fn error(status: u16, error: &str, code: u64) -> HttpResponse {
    error_with(status, error, code, None)
}

fn error_with(status: u16, error: &str, code: u64, suberror: Option<&str>) -> HttpResponse {
    let mut body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: fake description.\r\nTrace ID: 00000000-0000-0000-0000-000000000000"),
        "error_codes": [code],
        "timestamp": "2026-11-25 10:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    if let Some(sub) = suberror {
        body["suberror"] = json!(sub);
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

/// A plain error page: what Entra shows when it must not redirect (unknown redirect URI).
fn error_page(code: u64) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<html><body>AADSTS{code}: fake sign-in error page.</body></html>"
        ))
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
    _tenant: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
    fake: web::Data<Entra>,
) -> HttpResponse {
    *fake.last_authorize.lock().unwrap() = query.0.clone();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(redirect_uri) = get("redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return error_page(900144);
    };
    let registered = fake.redirect_uris.lock().unwrap().clone();
    if !registered.is_empty() && !registered.iter().any(|r| r == redirect_uri) {
        // Entra never redirects to an unregistered URI: it shows AADSTS50011 instead.
        return error_page(50011);
    }
    let state = get("state").unwrap_or_default();
    let refuse = |error: &str, code: u64| {
        let description = format!("AADSTS{code}: fake authorize error.");
        redirect(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", &description),
                ("state", state),
            ],
        )
    };
    if get("client_id") != Some(CLIENT_ID) {
        return refuse("invalid_request", 700016);
    }
    if get("response_type") != Some("code") {
        return refuse("invalid_request", 900144);
    }
    // The daemon must always use PKCE S256; a missing method would silently mean `plain`.
    // Real Entra accepts `plain`; this refusal is the fake being stricter on purpose, and the
    // AADSTS code here is illustrative [mem].
    if get("code_challenge_method") != Some("S256") || get("code_challenge").is_none() {
        return refuse("invalid_request", 50148);
    }
    if let Some(err) = fake.authorize_error.lock().unwrap().clone() {
        // 65004: the user declined consent, the typical `access_denied`.
        return refuse(&err, 65004);
    }
    let signed_in = fake.signed_in.lock().unwrap().clone();
    let user = signed_in
        .and_then(|oid| fake.find_user(&oid))
        .or_else(|| get("login_hint").and_then(|h| fake.find_user(h)));
    let Some(user) = user else {
        return refuse("login_required", 50058);
    };
    let code = random(32);
    fake.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            oid: user.oid,
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: get("code_challenge").unwrap_or_default().to_owned(),
            nonce: get("nonce").map(str::to_owned),
            scope: get("scope").unwrap_or_default().to_owned(),
            used: false,
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if get("state").is_some() {
        pairs.push(("state", state));
    }
    redirect(redirect_uri, &pairs)
}

/// Client id and secret from the form, or from HTTP Basic (RFC 6749 §2.3.1), which Entra accepts.
fn client_credentials(req: &HttpRequest, get: &dyn Fn(&str) -> String) -> (String, String) {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((id.to_owned(), secret.to_owned()))
        });
    basic.unwrap_or_else(|| (get("client_id"), get("client_secret")))
}

async fn token(
    req: HttpRequest,
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
    let delay = fake.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    let tenant = path.into_inner();
    let grant_type = get("grant_type");
    if !matches!(
        grant_type.as_str(),
        "client_credentials" | "authorization_code" | "refresh_token"
    ) {
        return error(400, "unsupported_grant_type", 70003);
    }
    // Only app-only tokens need a tenant authority; delegated flows may use /common.
    if grant_type == "client_credentials" && matches!(tenant.as_str(), "common" | "consumers") {
        return error(400, "invalid_request", 9001023);
    }
    let (client_id, client_secret) = client_credentials(&req, &get);
    if client_id != CLIENT_ID {
        return error(400, "unauthorized_client", 700016);
    }
    let assertion = get("client_assertion");
    if assertion.is_empty() && get("client_assertion_type").is_empty() {
        if client_secret != CLIENT_SECRET {
            return error(401, "invalid_client", 7000215);
        }
    } else {
        let token_url = format!("{}/{tenant}/oauth2/v2.0/token", fake.base);
        let cert = fake.client_certificate.lock().unwrap().clone();
        let verdict = if get("client_assertion_type") != entra_assertion::ASSERTION_TYPE {
            Err((401, "invalid_client", 700027))
        } else {
            entra_assertion::verify(
                cert.as_deref(),
                &assertion,
                &token_url,
                CLIENT_ID,
                &fake.jtis,
            )
        };
        if let Err((status, err, code)) = verdict {
            return error(status, err, code);
        }
    }
    match grant_type.as_str() {
        "client_credentials" => client_credentials_grant(&fake, &tenant, &get("scope")),
        "authorization_code" => authorization_code_grant(&fake, &get),
        _ => refresh_token_grant(&fake, &get),
    }
}

fn client_credentials_grant(fake: &Entra, tenant: &str, scope: &str) -> HttpResponse {
    let Some(resource) = scope.strip_suffix("/.default") else {
        return error(400, "invalid_scope", 1002012);
    };
    let secs = fake.expires_in.load(Ordering::SeqCst);
    let at = fake.register_token(None, tenant, resource, secs);
    HttpResponse::Ok().json(json!({
        "token_type": "Bearer",
        "expires_in": secs,
        "ext_expires_in": 3599,
        "access_token": at,
    }))
}

fn authorization_code_grant(fake: &Entra, get: &dyn Fn(&str) -> String) -> HttpResponse {
    let (oid, scope, nonce) = {
        let mut codes = fake.codes.lock().unwrap();
        let Some(grant) = codes.get_mut(&get("code")) else {
            // Malformed or unknown code.
            return error(400, "invalid_grant", 9002313);
        };
        if grant.used {
            return error(400, "invalid_grant", 54005);
        }
        // Any redemption attempt burns the code (the stricter reading): a client must never
        // retry a redemption, successful or not.
        grant.used = true;
        if grant.redirect_uri != get("redirect_uri") {
            // AADSTS500112: the reply address does not match the one used to obtain the
            // code [mem: recalled from the AADSTS table, not re-checked].
            return error(400, "invalid_grant", 500112);
        }
        if pkce_challenge(&get("code_verifier")) != grant.code_challenge {
            return error(400, "invalid_grant", 501481);
        }
        (grant.oid.clone(), grant.scope.clone(), grant.nonce.clone())
    };
    let Some(user) = fake.find_user(&oid) else {
        return error(400, "invalid_grant", 50034);
    };
    // A scope sent at redemption narrows to one resource; the fake keeps the authorize scope
    // unless one is given.
    let scope = Some(get("scope"))
        .filter(|s| !s.is_empty())
        .unwrap_or(scope);
    fake.user_tokens(&user, &scope, nonce.as_deref())
}

fn refresh_token_grant(fake: &Entra, get: &dyn Fn(&str) -> String) -> HttpResponse {
    fake.refresh_calls.fetch_add(1, Ordering::SeqCst);
    let rt = get("refresh_token");
    *fake.rt_uses.lock().unwrap().entry(rt.clone()).or_default() += 1;
    if let Some((status, err, code)) = fake.refresh_error.lock().unwrap().clone() {
        let suberror = (code == 65001).then_some("consent_required");
        return error_with(status, &err, code, suberror);
    }
    let (oid, scope) = {
        let rts = fake.refresh_tokens.lock().unwrap();
        let Some(grant) = rts.get(&rt) else {
            return error(400, "invalid_grant", 9002313);
        };
        if grant.revoked {
            return error(400, "invalid_grant", 50173);
        }
        (grant.oid.clone(), grant.scope.clone())
    };
    let Some(user) = fake.find_user(&oid) else {
        return error(400, "invalid_grant", 50034);
    };
    let requested = get("scope");
    let mut scope = if requested.is_empty() {
        scope
    } else {
        requested
    };
    // The RT was granted with offline_access; a refresh always yields a new one.
    if !scope.split_whitespace().any(|s| s == "offline_access") {
        scope.push_str(" offline_access");
    }
    fake.user_tokens(&user, &scope, None)
}

async fn keys(fake: web::Data<Entra>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"keys": [{
        "kty": "RSA",
        "use": "sig",
        "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(&fake.key.n),
        "e": URL_SAFE_NO_PAD.encode(&fake.key.e),
        "alg": "RS256",
    }]}))
}

/// Starts the fake on a loopback port; app-only tokens live `expires_in` seconds. The base
/// URL is `http://{addr}`.
pub fn start(expires_in: u64) -> (SocketAddr, web::Data<Entra>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = web::Data::new(Entra::new(format!("http://{addr}"), expires_in));
    let f = fake.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(f.clone())
            .route("/{tenant}/oauth2/v2.0/authorize", web::get().to(authorize))
            .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
            .route("/{tenant}/discovery/v2.0/keys", web::get().to(keys))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
    (addr, fake)
}
