//! `jira_remote_link_resync` items: after remote links were switched back on for an instance,
//! every link of it gets its remote link queued again, one bounded batch per item. Each item
//! queues its batch and the next item in one transaction, so a crash loses no link and no
//! transaction grows with the number of links; a repeat of an item only queues writes that are
//! idempotent anyway. Switching remote links off again ends the walk.

use std::future::Future;
use std::pin::Pin;

use diesel::Connection;
use uuid::Uuid;

use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::JIRA_REMOTE_LINK_RESYNC;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::issue_chats;
use crate::state::AppState;

/// Links queued per item.
pub const RESYNC_BATCH: i64 = 500;

/// Walks an instance's links, queueing their remote links.
pub struct RemoteLinkResync {
    state: AppState,
}

impl RemoteLinkResync {
    /// A walker over the app's state.
    pub fn new(state: AppState) -> RemoteLinkResync {
        RemoteLinkResync { state }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let bad = || DeliveryError::Permanent("the item does not name its walk".into());
        let instance = item.jira_instance_id.ok_or_else(bad)?;
        let run = item.payload["run"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(bad)?;
        let after = match &item.payload["after"] {
            serde_json::Value::Null => None,
            v => Some(
                v.as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(bad)?,
            ),
        };
        let queued = db::run(&self.state.pool, move |conn| {
            Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
                match JiraInstance::find(conn, instance)? {
                    Some(i) if i.remote_links => {}
                    _ => return Ok(0),
                }
                let next = issue_chats::requeue_remote_links(conn, instance, after, RESYNC_BATCH)?;
                if let Some(last) = next {
                    issue_chats::queue_remote_link_resync(conn, instance, run, Some(last))?;
                }
                Ok(1)
            })?)
        })
        .await
        .map_err(|e| DeliveryError::Retry {
            error: e.to_string(),
            retry_after: None,
        })?;
        if queued > 0 {
            self.state.outbox_wake.notify_one();
        }
        Ok(())
    }
}

impl Deliverer for RemoteLinkResync {
    fn kind(&self) -> &'static str {
        JIRA_REMOTE_LINK_RESYNC
    }

    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>> {
        Box::pin(self.deliver_item(item))
    }
}
