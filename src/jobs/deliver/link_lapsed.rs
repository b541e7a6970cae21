//! `link_lapsed` items: the one message a user gets in their 1:1 chat with the bot when their
//! link's Microsoft or Jira sign-in lapsed — which sign-in, on which Jira instance, that
//! notifications (and the channel subscriptions they own) stop until they sign in again, and a
//! sign-in card with a one-time URL minted now (`services::account_link`), so it is fresh when
//! it arrives.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use uuid::Uuid;

use super::conversation::{post_to_conversation, retry};
use crate::clients::botframework::BotConnector;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::LINK_LAPSED;
use crate::db::models::teams_sign_in::URL_TTL_SECS;
use crate::db::models::teams_user_setting::TeamsUserSetting;
use crate::db::models::user_mapping::UserMapping;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::account_link;
use crate::state::AppState;

/// What a lapse item names, read back from its payload.
pub(crate) struct LapseItem {
    pub mapping: Uuid,
    pub lapse: i64,
    pub microsoft: bool,
}

/// Reads `mappingId`, `lapse` and `signIn` of a lapse item.
pub(crate) fn lapse_item(item: &OutboxItem) -> Result<LapseItem, DeliveryError> {
    let mapping = item.payload["mappingId"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| DeliveryError::Permanent("the item names no link".into()))?;
    let lapse = item.payload["lapse"]
        .as_i64()
        .ok_or_else(|| DeliveryError::Permanent("the item names no lapse".into()))?;
    Ok(LapseItem {
        mapping,
        lapse,
        microsoft: item.payload["signIn"] == "microsoft",
    })
}

/// Why a lapse item is not sent after all, when the link moved on: it is gone, the user signed
/// in again, or it lapsed again since (that lapse has its own message).
pub(crate) fn stale(mapping: Option<&UserMapping>, lapse: i64) -> Option<&'static str> {
    match mapping {
        None => Some("the link is gone"),
        Some(m) if m.status != "needs_reauth" => {
            Some("the user signed in again before it was sent")
        }
        Some(m) if i64::from(m.lapse_count) != lapse => Some("the link lapsed again since"),
        Some(_) => None,
    }
}

/// Records why an item ends unsent; the item is then done (nothing to retry).
pub(crate) async fn finish_unsent(state: &AppState, item: &OutboxItem, why: &'static str) {
    let id = item.id;
    tracing::info!(outbox.id = id, outbox.kind = %item.kind, reason = why, "lapse message not sent");
    let _ = db::run(&state.pool, move |conn| {
        Ok(OutboxItem::note(conn, id, why)?)
    })
    .await;
}

/// `s` shown literally inside a sentence of markdown (emphasis, links, code and HTML-like
/// characters escaped), cut to `max` characters.
pub(crate) fn inline(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if matches!(
            c,
            '\\' | '*' | '_' | '[' | ']' | '`' | '<' | '>' | '#' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Where an instance is, as users know it (`jira.example.com/jira`).
pub(crate) fn instance_label(instance: &JiraInstance) -> String {
    let url = instance.base_url.as_str();
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_owned()
}

/// The message: what lapsed, what stops, and the sign-in card.
fn activity(
    microsoft: bool,
    instance: &str,
    projects: &[String],
    channels: u64,
    url: &str,
) -> Value {
    let instance = inline(instance, 200);
    let what = if microsoft {
        format!("Your **Microsoft** sign-in for your link to Jira on **{instance}** has lapsed.")
    } else {
        format!("Your **Jira** sign-in on **{instance}** has lapsed.")
    };
    let mut stops =
        String::from("Until you sign in again I can't send you Jira notifications here");
    if projects.is_empty() {
        stops.push('.');
    } else {
        let projects: Vec<String> = projects.iter().map(|p| inline(p, 40)).collect();
        let channels = if channels == 1 {
            "the channel".to_owned()
        } else {
            format!("the {channels} channels")
        };
        stops.push_str(&format!(
            ", and updates for {} that you subscribed {channels} to have stopped too.",
            projects.join(", ")
        ));
    }
    let how = format!(
        "Sign in again with the button below: it works once, for {} minutes, and only for you. If it has expired, type **link** here for a new one.",
        URL_TTL_SECS / 60
    );
    json!({
        "type": "message",
        "textFormat": "markdown",
        "text": format!("{what} {stops}"),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Sign in again", "weight": "bolder", "size": "medium"},
                    {"type": "TextBlock", "wrap": true, "text": format!("{what} {stops}")},
                    {"type": "TextBlock", "wrap": true, "text": how},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Sign in again", "url": url}],
            },
        }, {
            // the same URL in Teams' own sign-in pop-up, as the `link` card offers it
            "contentType": "application/vnd.microsoft.card.signin",
            "content": {
                "text": "Or sign in without leaving Teams:",
                "buttons": [{"type": "signin", "title": "Sign in here", "value": url}],
            },
        }],
    })
}

/// Sends the one "your link lapsed" message of a lapse to the user's 1:1 chat with the bot. A
/// user without a known 1:1 chat (the app never installed personally) is not told: the item ends
/// with that reason, it is not retried.
pub struct LapseNotifier {
    state: AppState,
    connector: BotConnector,
}

impl LapseNotifier {
    /// A notifier over the app's state and outbound stack.
    pub fn new(state: AppState) -> LapseNotifier {
        let connector = BotConnector::new(state.http.clone());
        LapseNotifier { state, connector }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let what = lapse_item(item)?;
        let id = what.mapping;
        let (mapping, instance, setting) = db::run(&self.state.pool, move |conn| {
            let Some(m) = UserMapping::get(conn, id)? else {
                return Ok((None, None, None));
            };
            let instance = JiraInstance::find(conn, m.jira_instance_id)?;
            let setting = TeamsUserSetting::by_aad_object(conn, m.ms_tenant_id, m.ms_user_id)?;
            Ok((Some(m), instance, setting))
        })
        .await
        .map_err(|e| retry(e.to_string()))?;
        if let Some(why) = stale(mapping.as_ref(), what.lapse) {
            finish_unsent(&self.state, item, why).await;
            return Ok(());
        }
        let (Some(mapping), Some(instance)) = (mapping, instance) else {
            finish_unsent(&self.state, item, "the Jira instance is gone").await;
            return Ok(());
        };
        let Some((setting, (conversation, service_url))) = setting
            .as_ref()
            .and_then(|s| s.personal_chat().map(|chat| (s, chat)))
        else {
            finish_unsent(
                &self.state,
                item,
                "no 1:1 chat with the bot is known for this user (the app was never installed personally)",
            )
            .await;
            return Ok(());
        };
        let url = account_link::teams_sign_in_url(
            &self.state,
            mapping.ms_tenant_id,
            mapping.ms_user_id,
            &setting.teams_user_id,
            instance.id,
        )
        .await
        .map_err(|e| retry(e.to_string()))?;
        let projects: Vec<String> = item.payload["projects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let channels = item.payload["channels"].as_u64().unwrap_or(0);
        let message = activity(
            what.microsoft,
            &instance_label(&instance),
            &projects,
            channels,
            &url,
        );
        post_to_conversation(
            &self.state,
            &self.connector,
            conversation,
            Some(service_url),
            |_| message.clone(),
        )
        .await?;
        tracing::info!(mapping.id = %mapping.id, "user told that their link lapsed");
        Ok(())
    }
}

impl Deliverer for LapseNotifier {
    fn kind(&self) -> &'static str {
        LINK_LAPSED
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_which_sign_in_lapsed_where_and_what_stops() {
        let a = activity(
            false,
            "jira.example.com/jira",
            &["ABC".into()],
            1,
            "https://x/start?t=1",
        );
        let t = a["text"].as_str().unwrap();
        assert!(
            t.contains("**Jira** sign-in on **jira.example.com/jira**"),
            "{t}"
        );
        assert!(
            t.contains("updates for ABC that you subscribed the channel to"),
            "{t}"
        );
        assert_eq!(
            a["attachments"][0]["content"]["actions"][0]["url"],
            "https://x/start?t=1"
        );
        let m = activity(true, "j.example.com", &[], 0, "u");
        let t = m["text"].as_str().unwrap();
        assert!(t.contains("**Microsoft** sign-in"), "{t}");
        assert!(t.ends_with("notifications here."), "{t}");
    }
}
