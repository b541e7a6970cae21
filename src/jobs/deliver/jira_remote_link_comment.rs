//! `jira_remote_link_comment` items: the one "Teams chat started: <title> <url>" comment a newly
//! linked chat gets in its Jira issue when the instance asks for it (off by default), written as
//! the chat's creator in wiki markup, the title escaped so that nothing in it is read as markup.
//!
//! It is queued once, by the first successful write of the chat's remote link (dedupe
//! `comment:{link}`). A post whose answer was lost (a crash, a timeout) is retried; a retry first
//! looks among the issue's newest comments for the chat's URL, so the comment is not written twice.
//! In a Jira Service Management project (its `projectTypeKey` is `service_desk`, read with the
//! issue in one call) the comment is internal, never shown to the customer.

use std::future::Future;
use std::pin::Pin;

use super::jira_remote_link::{jira_retry, payload_link};
use crate::clients::jira::JiraCallError;
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::outbox::OutboxItem;
use crate::db::models::outbox_kind::JIRA_REMOTE_LINK_COMMENT;
use crate::db::models::user_mapping::UserMapping;
use crate::domain::wiki_markup;
use crate::jobs::outbox::{Deliverer, DeliveryError};
use crate::services::tokens;
use crate::state::AppState;

/// Posts the "Teams chat started" comments.
pub struct RemoteLinkCommenter {
    state: AppState,
}

/// The comment's wiki markup: the title as escaped text, the URL as Jira links it.
pub fn comment_body(title: &str, url: &str) -> String {
    format!(
        "Teams chat started: {} {url}",
        wiki_markup::from_message(title, "text")
    )
}

impl RemoteLinkCommenter {
    /// A commenter over the app's state.
    pub fn new(state: AppState) -> RemoteLinkCommenter {
        RemoteLinkCommenter { state }
    }

    async fn deliver_item(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let id = payload_link(item)?;
        let bad = || DeliveryError::Permanent("the item does not name its comment".into());
        let title = item.payload["title"].as_str().ok_or_else(bad)?.to_owned();
        let url = item.payload["url"].as_str().ok_or_else(bad)?.to_owned();
        let found = db::run(&self.state.pool, move |conn| {
            let Some(link) = IssueChat::by_id(conn, id)? else {
                return Ok(None);
            };
            let Some(instance) = JiraInstance::find(conn, link.jira_instance_id)? else {
                return Ok(None);
            };
            let creator = UserMapping::find(conn, link.jira_instance_id, &link.created_by)?;
            Ok(Some((link, instance, creator)))
        })
        .await
        .map_err(|e| DeliveryError::Retry {
            error: e.to_string(),
            retry_after: None,
        })?;
        // unlinked before its comment went out: a comment about it would only be noise now
        let Some((link, instance, creator)) = found else {
            return Ok(());
        };
        let issue_id = link.issue_id;
        let give_up = |why: &str| {
            DeliveryError::Permanent(format!(
                "\"Teams chat started\" comment in issue {issue_id}: {why}"
            ))
        };
        let Some(creator) = creator else {
            return Err(give_up(
                "the chat's creator has not linked their Jira account",
            ));
        };
        let actor = Actor::Job("remote_link".into());
        let (token, jira) = match tokens::jira_token(
            &self.state,
            &instance,
            &creator,
            &actor,
            "comment that a Teams chat was linked to the issue",
        )
        .await
        {
            Ok(t) => t,
            Err(e) if e.code() == "needs_sign_in" => {
                return Err(give_up("the chat's creator must sign in with Jira again"));
            }
            Err(e) => {
                return Err(DeliveryError::Retry {
                    error: e.to_string(),
                    retry_after: None,
                });
            }
        };
        let sign_in = "Jira refused the creator's token; they must sign in with Jira again";
        let other = |e: crate::clients::jira::JiraError| {
            if e.needs_sign_in() {
                give_up(sign_in)
            } else {
                jira_retry(&e)
            }
        };
        // an earlier attempt may have been written without its answer reaching us
        if item.attempts > 1 {
            match jira.recent_comment_contains(&token, issue_id, &url).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(JiraCallError::Refused(why)) => return Err(give_up(&why.0)),
                Err(JiraCallError::Other(e)) => return Err(other(e)),
            }
        }
        let issue = match jira.issue_for_link(&token, issue_id).await {
            Ok(Some(i)) => i,
            Ok(None) => {
                return Err(give_up(
                    "the issue is gone or hidden from the chat's creator",
                ));
            }
            Err(e) => return Err(other(e)),
        };
        match jira
            .add_comment(
                &token,
                issue_id,
                &comment_body(&title, &url),
                issue.in_service_desk(),
            )
            .await
        {
            Ok(_) => {
                tracing::info!(link.id = %id, issue.id = issue_id, internal = issue.in_service_desk(), "\"Teams chat started\" comment written");
                Ok(())
            }
            Err(JiraCallError::Refused(why)) => Err(give_up(&why.0)),
            Err(JiraCallError::Other(e)) => Err(other(e)),
        }
    }
}

impl Deliverer for RemoteLinkCommenter {
    fn kind(&self) -> &'static str {
        JIRA_REMOTE_LINK_COMMENT
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
    fn a_title_is_text_in_the_comment_never_markup() {
        assert_eq!(
            comment_body(
                "ABC-1: [click|https://evil.example] *now*",
                "https://b.example/x"
            ),
            "Teams chat started: ABC-1: \\[click\\|https://evil.example\\] \\*now\\* https://b.example/x"
        );
    }
}
