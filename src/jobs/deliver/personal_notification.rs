//! `personal_notification` items: one person's card about an issue event, in their 1:1 chat with
//! the bot.

use std::future::Future;
use std::pin::Pin;

use super::comment_card::post_event_card;
use super::conversation::{bot_failure, item_event, paced, retry};
use crate::clients::botframework::BotConnector;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::bot_membership::BotMembership;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::PERSONAL_NOTIFICATION;
use crate::domain::card;
use crate::domain::service_url::ServiceUrl;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::connections;
use crate::state::AppState;

/// Sends one person's notification (`personal_notification` items) to their 1:1 chat with the
/// bot: the one a personal installation recorded or, failing that, one created by Entra object
/// id (PROTOCOLS.md §3.4; Teams answers 403 when the app is not installed for the user, and the
/// item fails for good).
pub struct PersonalNotifier {
    state: AppState,
    connector: BotConnector,
}

impl PersonalNotifier {
    /// A notifier over the app's state and outbound stack.
    pub fn new(state: AppState) -> PersonalNotifier {
        let connector = BotConnector::new(state.http.clone());
        PersonalNotifier { state, connector }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let event = item_event(item)?;
        let ids = |k: &str| {
            item.payload[k]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(|| DeliveryError::Permanent(format!("the item has no {k}")))
        };
        let (tenant, oid) = (ids("tenantId")?, ids("aadObjectId")?);
        let reason = item.payload["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let instance = item.jira_instance_id;
        let (instance, setting, latest) = db::run(&self.state.pool, move |conn| {
            let instance = match instance {
                Some(id) => JiraInstance::find(conn, id)?,
                None => None,
            };
            let setting = crate::db::models::teams_user_setting::TeamsUserSetting::by_aad_object(
                conn, tenant, oid,
            )?;
            let latest = BotMembership::latest_service_url(conn, tenant)?;
            Ok((instance, setting, latest))
        })
        .await
        .map_err(|e| retry(e.to_string()))?;
        let instance =
            instance.ok_or_else(|| DeliveryError::Permanent("the Jira instance is gone".into()))?;
        let build = |compact: bool| {
            let mut activity = card::offer_comment(
                card::issue_activity(&event, &instance.base_url, compact),
                &event,
                &instance.public_id,
            );
            if !reason.is_empty() {
                let text = activity["text"].as_str().unwrap_or_default().to_owned();
                activity["text"] = serde_json::Value::String(format!("{reason} · {text}"));
            }
            activity
        };
        if let Some((conversation, service_url)) = setting.as_ref().and_then(|s| s.personal_chat())
        {
            return post_event_card(
                &self.state,
                &self.connector,
                conversation,
                Some(service_url),
                &instance,
                &event,
                build,
            )
            .await;
        }
        // no personal installation seen: ask Teams for the 1:1 conversation
        let service_url = latest.ok_or_else(|| {
            DeliveryError::Permanent(
                "the Teams app was never installed in this user's tenant".into(),
            )
        })?;
        let ms = connections::microsoft(&self.state, &Actor::Job("notify".into()))
            .await
            .map_err(|e| retry(e.to_string()))?;
        let url = ServiceUrl::parse(&service_url, &ms.endpoints.service_url_hosts)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let token = ms
            .bot_token()
            .await
            .map_err(|e| retry(format!("no Bot Connector token: {e}")))?;
        let (tenant, oid) = (tenant.to_string(), oid.to_string());
        let conversation = paced(&self.state, &tenant, &format!("new-personal:{oid}"), || {
            self.connector.create_personal_conversation(
                &token,
                &url,
                &ms.registration.bot_app_id,
                &tenant,
                &oid,
            )
        })
        .await
        .map_err(bot_failure)?;
        post_event_card(
            &self.state,
            &self.connector,
            &conversation,
            Some(&service_url),
            &instance,
            &event,
            build,
        )
        .await
    }
}

impl Deliverer for PersonalNotifier {
    fn kind(&self) -> &'static str {
        PERSONAL_NOTIFICATION
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}
