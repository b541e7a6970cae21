//! What the web handlers and the background jobs both need: the database, the vault and the
//! outbound clients used together. Nothing here knows about HTTP requests (no actix types) or
//! about the outbox runner; `web/` and `jobs/` call it, it calls `state`, `db/` and `clients/`.

pub mod account_link;
pub mod activity;
pub mod chat_access;
pub mod chat_attach;
pub mod chat_create;
pub mod chat_relay;
pub mod connections;
pub mod issue_chats;
pub mod jira_session;
pub mod jira_visibility;
pub mod link_lapse;
pub mod secrets;
pub mod service_desks;
pub mod tokens;
pub mod webhook_registration;
