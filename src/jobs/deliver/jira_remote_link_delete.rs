//! `jira_remote_link_delete` items: the remote link of an unlinked chat removed from its Jira
//! issue by its `globalId`, as the user who unlinked it. The link row is gone by then, so the item
//! carries what the delete needs (`{"issueId", "globalId", "asUser", "link"}`). Jira's 404 means
//! there is nothing left to delete (never written, removed by hand, or the issue is gone): done.
//! A user Jira does not let delete it, or who must sign in again, ends the item for good with the
//! reason on the delivery queue; throttling and 5xx are retried after Jira's `Retry-After`.

use std::future::Future;
use std::pin::Pin;

use super::jira_remote_link::jira_retry;
use crate::clients::jira::JiraCallError;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::JIRA_REMOTE_LINK_DELETE;
use crate::db::models::user_mapping::UserMapping;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::tokens;
use crate::state::AppState;

/// Deletes unlinked chats' remote links.
pub struct RemoteLinkRemover {
    state: AppState,
}

impl RemoteLinkRemover {
    /// A remover over the app's state.
    pub fn new(state: AppState) -> RemoteLinkRemover {
        RemoteLinkRemover { state }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let bad = || DeliveryError::Permanent("the item does not name a remote link".into());
        let issue_id = item.payload["issueId"].as_i64().ok_or_else(bad)?;
        let global_id = item.payload["globalId"]
            .as_str()
            .ok_or_else(bad)?
            .to_owned();
        let as_user = item.payload["asUser"].as_str().ok_or_else(bad)?.to_owned();
        let Some(instance_id) = item.jira_instance_id else {
            return Err(bad());
        };
        let user = as_user.clone();
        let found = db::run(&self.state.pool, move |conn| {
            let Some(instance) = JiraInstance::find(conn, instance_id)? else {
                return Ok(None);
            };
            Ok(Some((
                instance,
                UserMapping::find(conn, instance_id, &user)?,
            )))
        })
        .await
        .map_err(|e| DeliveryError::Retry {
            error: e.to_string(),
            retry_after: None,
        })?;
        // the instance was erased, and with it everything it showed
        let Some((instance, mapping)) = found else {
            return Ok(());
        };
        let gone_for_good = |why: &str| {
            DeliveryError::Permanent(format!(
                "deleting the remote link of an unlinked chat in issue {issue_id}: {why}"
            ))
        };
        if !instance.enabled {
            return Err(gone_for_good("the Jira instance is disabled"));
        }
        let Some(mapping) = mapping else {
            return Err(gone_for_good(
                "the user who unlinked the chat has not linked their Jira account",
            ));
        };
        let actor = Actor::Job("remote_link".into());
        let (token, jira) = match tokens::jira_token(
            &self.state,
            &instance,
            &mapping,
            &actor,
            "delete an unlinked chat's remote link",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => {
                return Err(gone_for_good(
                    "the user who unlinked the chat must sign in with Jira again",
                ));
            }
            Err(e) => {
                return Err(DeliveryError::Retry {
                    error: e.to_string(),
                    retry_after: None,
                });
            }
        };
        match jira.delete_remote_link(&token, issue_id, &global_id).await {
            Ok(deleted) => {
                tracing::info!(
                    issue.id = issue_id,
                    deleted,
                    "remote link of an unlinked chat removed from the Jira issue"
                );
                Ok(())
            }
            Err(JiraCallError::Refused(why)) => Err(gone_for_good(&why.0)),
            Err(JiraCallError::Other(e)) if e.needs_sign_in() => Err(gone_for_good(
                "Jira refused the token of the user who unlinked the chat; they must sign in with Jira again",
            )),
            Err(JiraCallError::Other(e)) => Err(jira_retry(&e)),
        }
    }
}

impl Deliverer for RemoteLinkRemover {
    fn kind(&self) -> &'static str {
        JIRA_REMOTE_LINK_DELETE
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}
