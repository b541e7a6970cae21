//! One deliverer per outbox kind (`db::models::outbox_kind`), each in its own file, plus what
//! the deliverers that post to Teams share (`conversation`, `comment_card`). The runner
//! (`jobs::outbox`) claims items and hands each to the deliverer of its kind.

pub mod bot_message;
pub mod bot_welcome;
pub mod chat_notification;
pub mod comment_card;
pub mod conversation;
pub mod personal_notification;
