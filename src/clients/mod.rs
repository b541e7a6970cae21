//! Outbound HTTP to Entra ID, Graph, the Bot Connector and Jira. No database access here.

pub mod entra;
pub mod http;
