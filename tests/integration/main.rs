//! The one integration-test binary: real PostgreSQL, the real server on port 0, real HTTP.

mod helpers;

mod cli_and_config;
mod inventory;
mod instances;
mod listeners;
mod schema;
mod setup_and_login;
mod vault;
