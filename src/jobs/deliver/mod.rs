//! One deliverer per outbox kind (`db::models::outbox_kind`), each in its own file, plus what
//! the deliverers that post to Teams share (`conversation`, `comment_card`). The `jira_remote_link*`
//! deliverers write what the appliance shows in Jira issues (a linked chat's remote link, its
//! deletion, the optional comment, and the walk that queues them all again). The runner
//! (`jobs::outbox`) claims items and hands each to the deliverer of its kind.

pub mod bot_message;
pub mod bot_welcome;
pub mod chat_notification;
pub mod comment_card;
pub mod conversation;
pub mod jira_remote_link;
pub mod jira_remote_link_comment;
pub mod jira_remote_link_delete;
pub mod jira_remote_link_resync;
pub mod link_lapsed;
pub mod link_lapsed_channel;
pub mod personal_notification;
