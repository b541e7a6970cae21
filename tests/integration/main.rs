//! The one integration-test binary: real PostgreSQL, the real server on port 0, real HTTP.
#![expect(clippy::unwrap_used, reason = "a failing unwrap is a failing test")]

mod helpers;

mod admin_connections;
mod api_auth;
mod api_chats;
mod api_openapi;
mod api_schema;
mod api_settings;
mod bench;
mod bench_e2e;
mod bot_endpoint;
mod bot_jira;
mod bot_signin;
mod bot_storm;
mod browser;
mod card_updates;
mod certificate;
mod cli_and_config;
mod doctor;
mod entra;
mod fakes;
mod fakes_selftest;
mod fanout;
mod fault;
mod instances;
mod inventory;
mod layering;
mod lifecycle;
mod lifecycle_registry;
mod linking;
mod listeners;
mod metrics;
mod notify;
mod outbound;
mod outbox;
mod portal;
mod relay;
mod scale_out;
mod schema;
mod setup_and_login;
mod teams_app;
mod vault;
mod webhooks;
