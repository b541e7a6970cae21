//! Each Jira instance's setup at a glance on `/admin/instances`: the OAuth link (set up, and
//! when it last proved to work), the webhook (a secret or URL token, and when its last event
//! arrived), remote links on or off, how many users are linked (counted up to a cap, never
//! exactly over a big table) and the next step to take, with a link to the page that does it.

use chrono::{DateTime, Utc};

use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::jira_instance_setup::JiraInstanceSetup;
use crate::db::models::user_mapping::{LINKED_USERS_CAP, UserMapping};
use crate::error::AppError;
use crate::state::AppState;

/// What the list shows of one instance's setup.
pub struct Setup {
    /// "not set up", "set up, not tested yet" or "tested <when>".
    pub oauth: String,
    pub oauth_ok: bool,
    /// "not set up", "signed (secret)" or "URL token".
    pub webhook: String,
    pub webhook_ok: bool,
    /// When the last authenticated event arrived (to the minute), if one ever did.
    pub last_event: Option<String>,
    pub remote_links: bool,
    /// "0", "1,234", or "10,000+" past the cap.
    pub linked_users: String,
    /// The first thing still missing; `None` once everything is set up.
    pub next_step: Option<NextStep>,
}

/// The next step and where it is done.
pub struct NextStep {
    pub text: &'static str,
    pub href: String,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The count as shown: exact up to the cap, "10,000+" past it.
pub fn linked_users_text(counted: i64) -> String {
    if counted > LINKED_USERS_CAP {
        format!("{}+", thousands(LINKED_USERS_CAP))
    } else {
        thousands(counted)
    }
}

/// The first missing of: OAuth link, webhook, first event, first linked user.
fn next_step(i: &JiraInstance, m: &JiraInstanceSetup, linked: i64) -> Option<NextStep> {
    let webhook_set = i.webhook_secret.is_some() || i.webhook_token_hash.is_some();
    let (text, href) = if i.oauth_client_id.is_none() {
        (
            "Set up the Jira OAuth link, so that Jira users can sign in and link their accounts.",
            format!("/admin/instances/{}/oauth", i.id),
        )
    } else if !webhook_set {
        (
            "Set up the webhook, so that Jira tells the appliance about issue changes.",
            format!("/admin/instances/{}/webhook", i.id),
        )
    } else if m.last_event_at.is_none() {
        (
            "Wait for the first webhook event (change an issue in Jira), or check the webhook in Jira.",
            format!("/admin/instances/{}/webhook", i.id),
        )
    } else if linked == 0 {
        (
            "Link the first user: sign in with Jira there and link a Microsoft account.",
            format!("/jira/{}/me", i.public_id),
        )
    } else {
        return None;
    };
    Some(NextStep { text, href })
}

fn setup_of(i: &JiraInstance, m: &JiraInstanceSetup, linked: i64) -> Setup {
    let oauth = match (&i.oauth_client_id, m.oauth_tested_at) {
        (None, _) => "not set up".to_owned(),
        (Some(_), None) => "set up, not tested yet".to_owned(),
        (Some(_), Some(t)) => format!("tested {}", when(t)),
    };
    let webhook = if i.webhook_secret.is_some() {
        "signed (secret)"
    } else if i.webhook_token_hash.is_some() {
        "URL token"
    } else {
        "not set up"
    };
    Setup {
        oauth_ok: i.oauth_client_id.is_some(),
        oauth,
        webhook_ok: webhook != "not set up",
        webhook: webhook.to_owned(),
        last_event: m.last_event_at.map(when),
        remote_links: i.remote_links,
        linked_users: linked_users_text(linked),
        next_step: next_step(i, m, linked),
    }
}

/// The setup of each instance, in the order given: its marks by primary key, and one capped
/// count per instance (the list of instances is short; each count reads at most
/// [`LINKED_USERS_CAP`] + 1 index entries).
pub async fn setups(state: &AppState, instances: &[JiraInstance]) -> Result<Vec<Setup>, AppError> {
    let ids: Vec<uuid::Uuid> = instances.iter().map(|i| i.id).collect();
    let (marks, counts) = db::run(&state.pool, move |conn| {
        let marks = JiraInstanceSetup::of(conn, &ids)?;
        let mut counts = Vec::with_capacity(ids.len());
        for id in &ids {
            counts.push(UserMapping::count_capped(conn, *id, LINKED_USERS_CAP)?);
        }
        Ok((marks, counts))
    })
    .await?;
    Ok(instances
        .iter()
        .zip(counts)
        .map(|(i, n)| {
            let m = marks
                .iter()
                .find(|m| m.jira_instance_id == i.id)
                .cloned()
                .unwrap_or_default();
            setup_of(i, &m, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_separators_and_a_plus_past_the_cap() {
        assert_eq!(linked_users_text(0), "0");
        assert_eq!(linked_users_text(999), "999");
        assert_eq!(linked_users_text(1_234), "1,234");
        assert_eq!(linked_users_text(10_000), "10,000");
        assert_eq!(linked_users_text(10_001), "10,000+");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
