//! Test doubles for the outside services this machine cannot reach, speaking HTTP on loopback
//! as PROTOCOLS.md §5 describes.

pub mod bot;
pub mod entra;
pub mod entra_assertion;
pub mod graph;
pub mod jira;
pub mod proxy;
