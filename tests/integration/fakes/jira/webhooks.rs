//! Admin webhooks of the Jira double (PROTOCOLS.md §4.2), on whichever API its version has:
//! 8/9 `/rest/webhooks/1.0/webhook` (a JSON array; each webhook named by its `self` URL), 10.x
//! `/rest/jira-webhook/1.0/webhooks` (a JSON array read with `start`/`limit`, as jira.js types
//! it; numeric `id`; the signing secret taken from `configuration.SECRET` and never listed back,
//! a top-level `secret` ignored as reported of real Jira). The other API answers 404, as a real
//! Jira of that version does. Callers authenticate with a bearer token (a PAT: [`Jira::mint_token`]
//! makes one); 401 for an unknown one, 403 unless its user is a Jira administrator. Writes are
//! recorded so a test can count them, and the next write can be scripted to be refused (400).

use super::*;

/// One registered webhook, as the fake stores it.
#[derive(Clone, Debug)]
pub struct FakeWebhook {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub exclude_body: bool,
    pub enabled: bool,
    pub filters: Value,
    /// `configuration.SECRET` (10.x), what Jira signs deliveries with.
    pub secret: Option<String>,
}

/// Webhook state of the fake.
pub struct Webhooks {
    /// `serverInfo`'s `version` (default `10.3.1`).
    pub version: String,
    pub hooks: Vec<FakeWebhook>,
    /// User keys with the Jira System Administrator / Administer Jira global permission.
    pub admins: Vec<String>,
    /// Every accepted write: "POST <path>" or "PUT <path>".
    pub writes: Vec<String>,
    /// The next create or update answers 400 with this in `errorMessages`.
    pub refuse_next: Option<String>,
    /// Both webhook APIs answer 404 (the webhook plugin disabled).
    pub api_missing: bool,
    next_id: u64,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            version: "10.3.1".into(),
            hooks: Vec::new(),
            admins: Vec::new(),
            writes: Vec::new(),
            refuse_next: None,
            api_missing: false,
            next_id: 1,
        }
    }
}

const LEGACY: &str = "/rest/webhooks/1.0/webhook";
const TEN: &str = "/rest/jira-webhook/1.0/webhooks";

impl Jira {
    /// Makes the fake answer `serverInfo` as Jira `version` (e.g. `9.12.4`, `10.3.1`) and offer
    /// that version's webhook API only.
    pub fn set_version(&self, version: &str) {
        self.webhooks.lock().unwrap().version = version.to_owned();
    }

    /// Gives `key` Jira administrator rights.
    pub fn make_admin(&self, key: &str) {
        self.webhooks.lock().unwrap().admins.push(key.to_owned());
    }

    /// Registers a webhook as an admin would by hand; its id.
    pub fn add_webhook(&self, name: &str, url: &str, events: &[&str]) -> u64 {
        let mut w = self.webhooks.lock().unwrap();
        let id = w.next_id;
        w.next_id += 1;
        w.hooks.push(FakeWebhook {
            id,
            name: name.to_owned(),
            url: url.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            exclude_body: false,
            enabled: true,
            filters: json!({"issue-related-events-section": ""}),
            secret: None,
        });
        id
    }

    /// The registered webhooks.
    pub fn webhooks(&self) -> Vec<FakeWebhook> {
        self.webhooks.lock().unwrap().hooks.clone()
    }

    /// The accepted webhook writes so far.
    pub fn webhook_writes(&self) -> Vec<String> {
        self.webhooks.lock().unwrap().writes.clone()
    }

    /// The next create or update is refused with 400 and `message`.
    pub fn refuse_next_webhook_write(&self, message: &str) {
        self.webhooks.lock().unwrap().refuse_next = Some(message.to_owned());
    }

    /// `X-Hub-Signature` of `body` as Jira sends it for the webhook `id` (which has a secret).
    pub fn sign_delivery(&self, id: u64, body: &[u8]) -> String {
        use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
        let w = self.webhooks.lock().unwrap();
        let secret = w
            .hooks
            .iter()
            .find(|h| h.id == id)
            .and_then(|h| h.secret.clone())
            .expect("a webhook with a secret");
        let key = PKey::hmac(secret.as_bytes()).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.update(body).unwrap();
        format!("sha256={}", hex::encode(s.sign_to_vec().unwrap()))
    }

    fn is_ten(&self) -> bool {
        let w = self.webhooks.lock().unwrap();
        w.version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            >= Some(10)
    }

    fn hook_json(&self, h: &FakeWebhook, ten: bool) -> Value {
        if ten {
            json!({
                "id": h.id,
                "self": format!("{}{TEN}/{}", self.base, h.id),
                "name": h.name,
                "url": h.url,
                "events": h.events,
                "filters": h.filters,
                "createdDate": 1764100000000u64,
                "updatedDate": 1764100000000u64,
                "configuration": {"EXCLUDE_BODY": h.exclude_body.to_string()},
                "active": h.enabled,
                "scopeType": "GLOBAL",
                "sslVerificationRequired": true,
            })
        } else {
            json!({
                "self": format!("{}{LEGACY}/{}", self.base, h.id),
                "name": h.name,
                "url": h.url,
                "excludeBody": h.exclude_body,
                "filters": h.filters,
                "events": h.events,
                "enabled": h.enabled,
                "lastUpdatedUser": "admin",
                "lastUpdatedDisplayName": "Admin",
                "lastUpdated": 1764100000000u64,
            })
        }
    }

    /// The admin behind the bearer token, or Jira's 401/403.
    fn webhook_admin(&self, req: &HttpRequest) -> Result<JiraUser, Box<HttpResponse>> {
        let user = self.caller(req)?;
        if self.webhooks.lock().unwrap().admins.contains(&user.key) {
            Ok(user)
        } else {
            Err(Box::new(rest_error(
                403,
                "You do not have the permission to manage webhooks: Jira administrators only.",
            )))
        }
    }

    /// 404 unless `ten` is the API of the fake's version.
    fn right_api(&self, ten: bool) -> Result<(), Box<HttpResponse>> {
        if self.is_ten() == ten && !self.webhooks.lock().unwrap().api_missing {
            Ok(())
        } else {
            Err(Box::new(HttpResponse::NotFound().finish()))
        }
    }
}

fn ten_of(req: &HttpRequest) -> bool {
    req.path().contains("/jira-webhook/")
}

pub(super) async fn list_webhooks(req: HttpRequest, fake: web::Data<Jira>) -> HttpResponse {
    let ten = ten_of(&req);
    ok_or_return!(fake.right_api(ten));
    ok_or_return!(fake.webhook_admin(&req));
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(100);
    let hooks = fake.webhooks();
    let page: Vec<Value> = if ten {
        hooks.iter().skip(start).take(limit).collect::<Vec<_>>()
    } else {
        hooks.iter().collect()
    }
    .into_iter()
    .map(|h| fake.hook_json(h, ten))
    .collect();
    HttpResponse::Ok().json(page)
}

/// Validates a create/update body as Jira would; the webhook it describes (id 0).
fn parse_body(body: &Value, ten: bool) -> Result<FakeWebhook, Box<HttpResponse>> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (name, url) = (text("name"), text("url"));
    let mut errors = serde_json::Map::new();
    if name.is_empty() {
        errors.insert("name".into(), json!("The webhook needs a name."));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.insert("url".into(), json!("The URL must be an http(s) URL."));
    }
    if !errors.is_empty() {
        return Err(Box::new(
            HttpResponse::BadRequest().json(json!({"errorMessages": [], "errors": errors})),
        ));
    }
    let conf = body.get("configuration");
    Ok(FakeWebhook {
        id: 0,
        name,
        url,
        events: body
            .get("events")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        exclude_body: body
            .get("excludeBody")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        enabled: body.get("active").and_then(Value::as_bool).unwrap_or(true),
        filters: body.get("filters").cloned().unwrap_or(json!({})),
        // Jira 10 signs with configuration.SECRET; a top-level `secret` is ignored
        secret: if ten {
            conf.and_then(|c| c.get("SECRET"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        } else {
            None
        },
    })
}

fn scripted_refusal(fake: &Jira) -> Option<HttpResponse> {
    let msg = fake.webhooks.lock().unwrap().refuse_next.take()?;
    Some(HttpResponse::BadRequest().json(json!({"errorMessages": [msg], "errors": {}})))
}

pub(super) async fn create_webhook(
    req: HttpRequest,
    fake: web::Data<Jira>,
    body: web::Json<Value>,
) -> HttpResponse {
    let ten = ten_of(&req);
    ok_or_return!(fake.right_api(ten));
    ok_or_return!(fake.webhook_admin(&req));
    if let Some(refused) = scripted_refusal(&fake) {
        return refused;
    }
    let mut hook = ok_or_return!(parse_body(&body, ten));
    let json = {
        let mut w = fake.webhooks.lock().unwrap();
        hook.id = w.next_id;
        w.next_id += 1;
        w.hooks.push(hook.clone());
        w.writes.push(format!("POST {}", req.path()));
        drop(w);
        fake.hook_json(&hook, ten)
    };
    HttpResponse::Created().json(json)
}

pub(super) async fn update_webhook(
    req: HttpRequest,
    fake: web::Data<Jira>,
    path: web::Path<u64>,
    body: web::Json<Value>,
) -> HttpResponse {
    let ten = ten_of(&req);
    ok_or_return!(fake.right_api(ten));
    ok_or_return!(fake.webhook_admin(&req));
    let id = path.into_inner();
    if !fake.webhooks().iter().any(|h| h.id == id) {
        return rest_error(404, "No webhook with this id.");
    }
    if let Some(refused) = scripted_refusal(&fake) {
        return refused;
    }
    let mut hook = ok_or_return!(parse_body(&body, ten));
    hook.id = id;
    let mut w = fake.webhooks.lock().unwrap();
    if let Some(h) = w.hooks.iter_mut().find(|h| h.id == id) {
        // an update without a secret keeps the one Jira has
        if hook.secret.is_none() {
            hook.secret = h.secret.clone();
        }
        *h = hook.clone();
    }
    w.writes.push(format!("PUT {}", req.path()));
    drop(w);
    HttpResponse::Ok().json(fake.hook_json(&hook, ten))
}
