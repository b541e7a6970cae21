//! One file per table: `X` (read), `NewX` (insert) and inherent functions over `&mut PgConnection`.

pub mod access_token;
pub mod admin_session;
pub mod admin_user;
pub mod audit;
pub mod bot_action;
pub mod bot_membership;
pub mod channel_subscription;
pub mod instance_setting;
pub mod inventory;
pub mod issue_chat;
pub mod jira_instance;
pub mod jsm_portal_app;
pub mod jwt_replay;
pub mod lifecycle;
pub mod login_attempt;
pub mod microsoft_app;
pub mod outbox;
pub mod retention;
pub mod secret;
pub mod setup_token;
pub mod sign_in_flow;
pub mod teams_app_package;
pub mod teams_sign_in;
pub mod teams_user_setting;
pub mod user_mapping;
