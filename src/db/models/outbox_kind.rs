//! The outbox's vocabulary: the kind of each queued delivery (one deliverer per kind in
//! `jobs::deliver`) and the ordering keys that keep one conversation's or one issue's deliveries
//! in order. Writers (webhooks, the bot, the jobs themselves) and the deliverers share these, so
//! they live with the outbox model.

use uuid::Uuid;

/// An issue event to fan out to people and channels.
pub const EVENT_FANOUT: &str = "event_fanout";

/// An issue event's card for the Teams chat linked to the issue (the webhook writer's rows).
pub const CHAT_NOTIFICATION: &str = "chat_notification";

/// One person's notification in their 1:1 chat with the bot.
pub const PERSONAL_NOTIFICATION: &str = "personal_notification";

/// The bot's answers (`{conversationId, serviceUrl, activity}`).
pub const BOT_MESSAGE: &str = "bot_message";

/// The one welcome message of a personal install.
pub const BOT_WELCOME: &str = "bot_welcome";

/// Writes (upserts) a linked chat's remote link in its Jira issue (`{"link": <issue_chat id>}`;
/// the deliverer reads the link's current state, so a later change supersedes an earlier one).
pub const JIRA_REMOTE_LINK: &str = "jira_remote_link";

/// Deletes the remote link of an unlinked chat (`{"issueId", "globalId", "asUser"}`: the link
/// row is gone by then, so the item carries what the delete needs).
pub const JIRA_REMOTE_LINK_DELETE: &str = "jira_remote_link_delete";

/// The one "Teams chat started" comment of a newly linked chat, when the instance asks for it
/// (`{"link", "issueId", "title", "url"}`; dedupe `comment:{link}`, so retries of the upsert that
/// queues it write it once).
pub const JIRA_REMOTE_LINK_COMMENT: &str = "jira_remote_link_comment";

/// Queues the remote link of every link of an instance, one bounded batch per item, after remote
/// links were switched back on (`{"run": uuid, "after": uuid | null}`; each item queues the
/// next).
pub const JIRA_REMOTE_LINK_RESYNC: &str = "jira_remote_link_resync";

/// The one message telling a user, in their 1:1 chat with the bot, that their link's Microsoft or
/// Jira sign-in lapsed (`{"mappingId", "lapse", "signIn", "tenantId", "aadObjectId", "projects",
/// "channels"}`: the projects and number of channels its subscriptions fed; dedupe
/// `lapse:{mapping}:{lapse}`, queued by the link's move from `linked` to `needs_reauth`, so once
/// per lapse). Ordered with the user's personal notifications ([`user_order`]).
pub const LINK_LAPSED: &str = "link_lapsed";

/// The one message telling a subscribed channel that its subscriptions' owner's sign-in lapsed
/// (`{"mappingId", "lapse", "signIn", "conversationId", "projects", "tenantId", "aadObjectId"}`;
/// dedupe `lapse:{mapping}:{lapse}:{conversation}`, queued with [`LINK_LAPSED`]).
pub const LINK_LAPSED_CHANNEL: &str = "link_lapsed_channel";

/// The ordering key of deliveries to one user's 1:1 chat with the bot (by Entra object id).
pub fn user_order(ms_user: Uuid) -> String {
    format!("user:{ms_user}")
}

/// The ordering key of one linked chat's remote-link writes (a delete never overtakes an
/// upsert).
pub fn remote_link_order(link: Uuid) -> String {
    format!("remote_link:{link}")
}

/// The ordering key of deliveries to one conversation is this prefix and its ID (the webhook
/// writer builds it in SQL).
pub const CONVERSATION_ORDER_PREFIX: &str = "conv:";

/// The ordering key of deliveries to one conversation.
pub fn conversation_order(conversation_id: &str) -> String {
    format!("{CONVERSATION_ORDER_PREFIX}{conversation_id}")
}

/// The ordering key of the fan-outs of one issue's events.
pub fn issue_order(instance: Uuid, issue_id: i64) -> String {
    format!("issue:{instance}:{issue_id}")
}
