//! *Register in Jira for me*: the instance's webhook created or brought up to date in Jira with a
//! Jira administrator's personal access token that is used for this one request and never
//! stored. `serverInfo` picks the API (10 and later: `/rest/jira-webhook/1.0/webhooks`, signed;
//! 8/9: `/rest/webhooks/1.0/webhook`, with a URL token), the listed webhooks are searched for
//! the appliance's URL, and only what differs is written, so a second run writes nothing.
//!
//! Jira is not known to list a webhook's signing secret back [2nd: no source shows it], and the
//! appliance keeps only a URL token's hash, so each webhook carries a way to recognise it: on
//! 8/9 the URL token in its URL (hashed and compared), on 10 a fingerprint of the signing secret
//! in its name (`… secret 1a2b3c4d`, 32 bits of a hash of a 256-bit secret: nothing to guess it
//! from; a listed `configuration.SECRET` equal to the stored one counts too).
//! A missing credential is generated, handed to Jira, and stored only after Jira accepted it,
//! so a refusal leaves the working one in place. Each use of the token is an audit row
//! (`jira_admin_pat`: `used_not_stored`, or `refused` when Jira refused it).

use secrecy::{ExposeSecret, SecretString};

use crate::clients::http::OutboundError;
use crate::clients::jira::{JiraAdminClient, ListedWebhook, WebhookApi, WebhookCallError};
use crate::db;
use crate::db::models::audit::{Actor, NewAuditRow, Outcome};
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::secret_column::JIRA_ADMIN_PAT;
use crate::error::AppError;
use crate::state::AppState;
use plan::{plan_signed, plan_token, same_endpoint};

mod plan;

const PURPOSE: &str = "register the Jira webhook";

/// What the registration did in Jira.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Found, already right: nothing written.
    Unchanged,
    Created,
    Updated,
}

/// A successful registration.
pub struct Registered {
    /// Jira's version as `serverInfo` gave it.
    pub version: String,
    pub api: WebhookApi,
    pub change: Change,
    /// A signing secret generated for this registration (Jira has it; shown once).
    pub new_secret: Option<SecretString>,
    /// The webhook URL with a URL token generated for this registration (shown once).
    pub new_url: Option<SecretString>,
    /// Things the admin should know (a disabled webhook, other webhooks to the same URL).
    pub notes: Vec<String>,
}

/// Why nothing (or not everything) was registered, in words for the admin.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Jira's answer, or why the appliance would not ask; nothing was stored.
    #[error("{0}")]
    Jira(String),
    #[error(transparent)]
    Internal(#[from] AppError),
}

/// The appliance's webhook URL for `instance`, without a token.
pub fn webhook_url(state: &AppState, instance: &JiraInstance) -> String {
    format!(
        "{}/webhooks/jira/{}",
        state.internal_url, instance.public_id
    )
}

/// What Jira's answer means here: the sentence for the page, and whether Jira refused the token.
fn explain(e: &WebhookCallError, version: Option<&str>) -> (String, bool) {
    let refused = matches!(
        e,
        WebhookCallError::BadToken | WebhookCallError::NotAdmin(_)
    );
    let text = match (e, version) {
        (WebhookCallError::NotFound(path), Some(v)) => format!(
            "Jira answered 404 at {path}: serverInfo says this is Jira {v}, which should have that webhook API. Check the base URL's context path, or register the webhook by hand below."
        ),
        (WebhookCallError::Outbound(OutboundError::Timeout { .. }), _) => "Jira did not answer in time. Check the base URL and the [outbound] proxy settings, or try again.".to_owned(),
        (WebhookCallError::Outbound(OutboundError::Unreachable { detail, .. }), _) => format!(
            "Jira is unreachable: {detail}. Check the base URL and the [outbound] proxy and CA settings."
        ),
        (WebhookCallError::NotFound(path), None) => format!(
            "Jira answered 404 at {path}: no Jira at this base URL (check its context path)."
        ),
        (e, _) => e.to_string(),
    };
    (text, refused)
}

/// Registers (or brings up to date) the instance's webhook in Jira with `pat`, which is dropped
/// when this returns and written nowhere; the audit row says it was used and not stored.
pub async fn register(
    state: &AppState,
    instance: &JiraInstance,
    admin: &str,
    pat: SecretString,
) -> Result<Registered, RegisterError> {
    // two runs at once (a double click, two admins) would each find no webhook and create one
    let Some(_running) = Running::start(instance.id) else {
        drop(pat);
        return Err(RegisterError::Jira(
            "A registration of this instance's webhook is running already: wait for it to finish, then look at the page again.".to_owned(),
        ));
    };
    let attempt = attempt(state, instance, admin, &pat).await;
    drop(pat);
    let (outcome, detail, commit) = match &attempt {
        Ok((r, commit)) => (
            Outcome::UsedNotStored,
            format!(
                "Jira {}: webhook {}",
                r.version,
                match r.change {
                    Change::Unchanged => "already registered, nothing changed",
                    Change::Created => "created",
                    Change::Updated => "updated",
                }
            ),
            commit.clone(),
        ),
        Err(Failed::Jira { text, refused }) => (
            if *refused {
                Outcome::Refused
            } else {
                Outcome::UsedNotStored
            },
            format!("nothing registered: {text}"),
            None,
        ),
        Err(Failed::Internal(_)) => (
            Outcome::UsedNotStored,
            "nothing registered: internal error".to_owned(),
            None,
        ),
    };
    finish(state, instance, admin, outcome, detail, commit).await?;
    match attempt {
        Ok((r, _)) => Ok(r),
        Err(Failed::Jira { text, .. }) => Err(RegisterError::Jira(text)),
        Err(Failed::Internal(e)) => Err(RegisterError::Internal(e)),
    }
}

/// The instances whose webhook this process is registering now.
static RUNNING: std::sync::Mutex<Vec<uuid::Uuid>> = std::sync::Mutex::new(Vec::new());

/// One registration in progress for an instance; it ends when dropped.
struct Running(uuid::Uuid);

impl Running {
    fn start(instance: uuid::Uuid) -> Option<Running> {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains(&instance) {
            return None;
        }
        running.push(instance);
        Some(Running(instance))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|i| *i != self.0);
    }
}

/// A credential to store once Jira has accepted it.
#[derive(Clone)]
enum Commit {
    Secret(SecretString),
    TokenHash(Vec<u8>),
}

enum Failed {
    Jira { text: String, refused: bool },
    Internal(AppError),
}

impl From<AppError> for Failed {
    fn from(e: AppError) -> Failed {
        Failed::Internal(e)
    }
}

/// The audit row, and the new credential (if any) with it in one transaction.
async fn finish(
    state: &AppState,
    instance: &JiraInstance,
    admin: &str,
    outcome: Outcome,
    detail: String,
    commit: Option<Commit>,
) -> Result<(), AppError> {
    let (id, label, actor) = (
        instance.id,
        instance.public_id.clone(),
        Actor::Admin(admin.to_owned()),
    );
    let vault = state.vault.clone();
    db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction::<_, anyhow::Error, _>(|c| {
            match &commit {
                Some(Commit::Secret(s)) => {
                    JiraInstance::set_webhook_secret(c, &vault, id, Some(s.expose_secret()))?;
                }
                Some(Commit::TokenHash(h)) => {
                    JiraInstance::set_webhook_token_hash(c, id, Some(h))?;
                }
                None => {}
            }
            NewAuditRow {
                actor: &actor,
                column: JIRA_ADMIN_PAT,
                row: id,
                label: &label,
                purpose: PURPOSE,
                outcome,
                detail: Some(&detail),
            }
            .insert(c)?;
            Ok(())
        }))
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)
}

async fn attempt(
    state: &AppState,
    instance: &JiraInstance,
    admin: &str,
    pat: &SecretString,
) -> Result<(Registered, Option<Commit>), Failed> {
    let client = JiraAdminClient::new(&state.http, &instance.base_url);
    let jira = |version: Option<&str>| {
        let version = version.map(str::to_owned);
        move |e: WebhookCallError| {
            let (text, refused) = explain(&e, version.as_deref());
            Failed::Jira { text, refused }
        }
    };
    let server = client.server_version(pat).await.map_err(jira(None))?;
    let api = WebhookApi::for_major(server.major);
    let version = server.version.clone();
    if api == WebhookApi::Legacy && instance.webhook_secret.is_some() {
        return Err(Failed::Jira {
            text: format!(
                "Jira {version} cannot sign deliveries, and this instance requires signed ones. Choose \u{201c}Stop requiring signatures\u{201d} first; the registration then uses a URL token."
            ),
            refused: false,
        });
    }
    let hooks = client
        .list_webhooks(pat, api)
        .await
        .map_err(jira(Some(&version)))?;
    let base = webhook_url(state, instance);
    let ours: Vec<&ListedWebhook> = hooks
        .iter()
        .filter(|h| same_endpoint(&h.url, &base))
        .collect();
    let mut notes = Vec::new();
    let mut plan = match api {
        WebhookApi::Jira10 => plan_signed(state, instance, admin, &base, &ours).await?,
        WebhookApi::Legacy => plan_token(instance, &base, &ours),
    };
    if ours.len() > 1 {
        notes.push(format!(
            "{} webhooks in Jira point at this appliance; only one was checked. Delete the others in Jira (Administration › System › WebHooks), or each event arrives more than once.",
            ours.len()
        ));
    }
    let mut registered = Registered {
        version,
        api,
        change: Change::Unchanged,
        new_secret: None,
        new_url: None,
        notes,
    };
    let Some(spec) = plan.spec.take() else {
        if plan.found.is_some_and(|h| !h.active) {
            registered
                .notes
                .push("The webhook is disabled in Jira: enable it there.".to_owned());
        }
        return Ok((registered, None));
    };
    let write = match plan.found {
        Some(h) => client.update_webhook(pat, api, &h.id, &spec).await,
        None => client.create_webhook(pat, api, &spec).await.map(|_| ()),
    };
    write.map_err(jira(Some(&registered.version)))?;
    registered.change = if plan.found.is_some() {
        Change::Updated
    } else {
        Change::Created
    };
    match &plan.commit {
        Some(Commit::Secret(s)) => registered.new_secret = Some(s.clone()),
        Some(Commit::TokenHash(_)) => registered.new_url = Some(spec.url.clone()),
        None => {}
    }
    tracing::info!(
        instance.public_id = %instance.public_id,
        webhook.api = api.path(),
        webhook.change = ?registered.change,
        "Jira webhook registered with an admin's token (not stored)"
    );
    Ok((registered, plan.commit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_registration_per_instance_runs_at_a_time() {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let first = Running::start(a).expect("free");
        assert!(
            Running::start(a).is_none(),
            "a second run of the same instance waits"
        );
        let other = Running::start(b).expect("another instance is not held up");
        drop(first);
        assert!(
            Running::start(a).is_some(),
            "free again once the first ended"
        );
        drop(other);
    }
}
