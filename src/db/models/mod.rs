//! One file per table: `X` (read), `NewX` (insert) and inherent functions over `&mut PgConnection`.

pub mod admin_session;
pub mod admin_user;
pub mod audit;
pub mod inventory;
pub mod issue_chat;
pub mod jira_instance;
pub mod jwt_replay;
pub mod login_attempt;
pub mod secret;
pub mod setup_token;
pub mod user_mapping;
