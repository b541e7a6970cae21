//! How the webhook found in Jira is recognised and what is written to it: the appliance's URL
//! (with or without a token), the URL token by its hash (8/9), the signing secret by the
//! fingerprint in the webhook's name (10), and the events, an admin's own additions kept.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{Commit, Failed, PURPOSE};
use crate::clients::jira::{ListedWebhook, WebhookSpec};
use crate::crypto::random;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::secret::JIRA_WEBHOOK_SECRET;
use crate::domain::jira_event::WEBHOOK_EVENTS;
use crate::services::secrets::{self, Audit};
use crate::state::AppState;

/// A short fingerprint of a signing secret, put into the webhook's name.
fn fingerprint(secret: &str) -> String {
    let mut input = b"jira-teams-bridge webhook secret\0".to_vec();
    input.extend_from_slice(secret.as_bytes());
    hex::encode(&openssl::sha::sha256(&input)[..4])
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
}

/// True when `listed` points at `ours` (token or not; host compared case-insensitively).
pub(super) fn same_endpoint(listed: &str, ours: &str) -> bool {
    match (
        url::Url::parse(without_query(listed)),
        url::Url::parse(ours),
    ) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
                && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        }
        _ => without_query(listed) == ours,
    }
}

fn token_in(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

fn token_matches(url: &str, hash: Option<&[u8]>) -> bool {
    match (token_in(url), hash) {
        (Some(t), Some(h)) => random::constant_time_eq(&random::token_hash(&t), h),
        _ => false,
    }
}

fn has_all_events(h: &ListedWebhook) -> bool {
    WEBHOOK_EVENTS
        .iter()
        .all(|e| h.events.iter().any(|x| x == e))
}

/// The webhook's events and ours (an admin's additions are kept).
fn merged_events(found: Option<&ListedWebhook>) -> Vec<String> {
    let mut events: Vec<String> = found.map(|h| h.events.clone()).unwrap_or_default();
    for e in WEBHOOK_EVENTS {
        if !events.iter().any(|x| x == e) {
            events.push(e.to_owned());
        }
    }
    events
}

fn secret_in_sync(h: &ListedWebhook, secret: &str) -> bool {
    let listed = h.configuration.get("SECRET").and_then(Value::as_str);
    h.name.contains(&format!("secret {}", fingerprint(secret)))
        || listed.is_some_and(|l| random::constant_time_eq(l.as_bytes(), secret.as_bytes()))
}

/// What to write: the webhook found (if any), the spec (none: already right), the credential.
pub(super) struct Plan<'a> {
    pub(super) found: Option<&'a ListedWebhook>,
    pub(super) spec: Option<WebhookSpec>,
    pub(super) commit: Option<Commit>,
}

fn name(instance: &JiraInstance, secret: Option<&str>) -> String {
    match secret {
        Some(s) => format!(
            "Microsoft Teams (jira-teams-bridge {}, secret {})",
            instance.public_id,
            fingerprint(s)
        ),
        None => format!("Microsoft Teams (jira-teams-bridge {})", instance.public_id),
    }
}

/// Jira 10: signed with the stored secret, or a new one when there is none.
pub(super) async fn plan_signed<'a>(
    state: &AppState,
    instance: &JiraInstance,
    admin: &str,
    base: &str,
    ours: &[&'a ListedWebhook],
) -> Result<Plan<'a>, Failed> {
    let stored = match &instance.webhook_secret {
        Some(ciphertext) => Some(
            secrets::read(
                state,
                instance.id,
                JIRA_WEBHOOK_SECRET,
                ciphertext,
                (Actor::Admin(admin.to_owned()), PURPOSE, &instance.public_id),
                Audit::EveryRead,
            )
            .await?,
        ),
        None => None,
    };
    let in_sync = |h: &ListedWebhook| {
        stored
            .as_ref()
            .is_some_and(|s| secret_in_sync(h, s.expose_secret()))
    };
    let found = ours
        .iter()
        .copied()
        .find(|h| in_sync(h))
        .or_else(|| ours.first().copied());
    if let Some(h) = found
        && in_sync(h)
        && without_query(&h.url) == h.url.trim_end_matches('/')
        && has_all_events(h)
        && !h.exclude_body
        && h.active
    {
        return Ok(Plan {
            found,
            spec: None,
            commit: None,
        });
    }
    let (secret, commit) = match stored {
        Some(s) => (s, None),
        None => {
            let s = SecretString::from(random::token(32));
            (s.clone(), Some(Commit::Secret(s)))
        }
    };
    Ok(Plan {
        found,
        spec: Some(WebhookSpec {
            name: name(instance, Some(secret.expose_secret())),
            url: SecretString::from(base.to_owned()),
            events: merged_events(found),
            filters: found.and_then(|h| h.filters.clone()),
            secret: Some(secret),
            configuration: found.map(|h| h.configuration.clone()).unwrap_or_default(),
        }),
        commit,
    })
}

/// Jira 8/9: a URL token, the one in the found webhook's URL when it is the stored one, else a
/// new one.
pub(super) fn plan_token<'a>(
    instance: &JiraInstance,
    base: &str,
    ours: &[&'a ListedWebhook],
) -> Plan<'a> {
    let hash = instance.webhook_token_hash.as_deref();
    let found = ours
        .iter()
        .copied()
        .find(|h| token_matches(&h.url, hash))
        .or_else(|| ours.first().copied());
    let known = found.filter(|h| token_matches(&h.url, hash));
    if let Some(h) = known
        && has_all_events(h)
        && !h.exclude_body
    {
        return Plan {
            found,
            spec: None,
            commit: None,
        };
    }
    let (url, commit) = match known {
        Some(h) => (h.url.clone(), None),
        None => {
            let token = random::token(32);
            let hash = random::token_hash(&token);
            (
                format!("{base}?token={token}"),
                Some(Commit::TokenHash(hash)),
            )
        }
    };
    Plan {
        found,
        spec: Some(WebhookSpec {
            name: found
                .map(|h| h.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| name(instance, None)),
            url: SecretString::from(url),
            events: merged_events(found),
            filters: found.and_then(|h| h.filters.clone()),
            secret: None,
            configuration: serde_json::Map::new(),
        }),
        commit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_url_is_ours_with_or_without_its_token() {
        let ours = "https://bridge.example/webhooks/jira/tHXLY2";
        assert!(same_endpoint(
            "https://BRIDGE.example:443/webhooks/jira/tHXLY2?token=abc",
            ours
        ));
        assert!(same_endpoint(
            "https://bridge.example/webhooks/jira/tHXLY2/",
            ours
        ));
        assert!(!same_endpoint(
            "https://bridge.example/webhooks/jira/OTHER1",
            ours
        ));
        assert!(!same_endpoint(
            "http://bridge.example/webhooks/jira/tHXLY2",
            ours
        ));
    }

    #[test]
    fn a_token_is_recognised_by_its_hash_only() {
        let hash = random::token_hash("s3cr3t");
        assert!(token_matches("https://b/w?token=s3cr3t", Some(&hash)));
        assert!(!token_matches("https://b/w?token=other", Some(&hash)));
        assert!(!token_matches("https://b/w", Some(&hash)));
        assert!(!token_matches("https://b/w?token=s3cr3t", None));
    }

    #[test]
    fn the_fingerprint_is_short_stable_and_not_the_secret() {
        let f = fingerprint("abc");
        assert_eq!(f.len(), 8);
        assert_eq!(f, fingerprint("abc"));
        assert_ne!(f, fingerprint("abd"));
    }
}
