//! What the feature tests share, and the only test code they import besides `fakes`: the app on
//! port 0 with a database of its own, the world of doubles most tests start from, signed
//! requests, the real daemon as a process, waits, webhook fixtures, `/metrics` scraping, a
//! real browser, the fault and storm set-ups, and regular expressions as JavaScript compiles them.

pub mod app;
pub mod bench;
pub mod bot;
pub mod browser;
pub mod cards;
pub mod cli;
pub mod daemon;
pub mod db;
pub mod ecma_regex;
pub mod fault;
pub mod issue_pages;
pub mod jira_user;
pub mod jwt;
pub mod metrics;
pub mod oauth_client;
pub mod storm;
pub mod tls;
pub mod wait;
pub mod webhook;
pub mod world;
