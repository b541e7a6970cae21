//! Outbound HTTP to Entra ID, Graph, the Bot Connector and Jira. No database access here.

pub mod activity_token;
pub mod bot_rate;
pub mod botframework;
pub mod entra;
pub mod entra_signin;
pub mod graph;
pub mod http;
pub mod jira;
pub mod microsoft;
