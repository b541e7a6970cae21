//! Validated value types. Pure: no IO, no database, no framework.

pub mod bot_activity;
pub mod bot_commands;
pub mod card;
pub mod chat_html;
pub mod chat_message;
pub mod cloud;
pub mod comment_form;
pub mod issue_link;
pub mod jira_base_url;
pub mod jira_card;
pub mod jira_event;
pub mod jira_user_key;
pub mod jql;
pub mod public_id;
pub mod qsh;
pub mod service_url;
pub mod settings;
pub mod shared_secret;
pub mod teams_chat_id;
pub mod teams_manifest;
pub mod wiki_markup;

pub use jira_base_url::{JiraBaseUrl, JiraBaseUrlError};
pub use public_id::PublicId;
pub use shared_secret::SharedSecret;
pub use teams_chat_id::TeamsChatId;
