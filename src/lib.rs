//! jira-teams-bridge: a self-hosted appliance that connects Jira Data Center to Microsoft Teams,
//! keeping all integration data in the operator's PostgreSQL.
//!
//! # Layers
//!
//! Layers are the modules at the top of `src/`; features live inside them (a new feature adds a
//! file in each layer it touches, never a new top-level module). Imports run from the top floor
//! down, never back up, and no two files import each other, directly or around a circle:
//!
//! | layer | may use |
//! |---|---|
//! | `main.rs` | everything |
//! | `cli` | `startup` and everything below it |
//! | `startup` | `web`, `jobs` and everything below them |
//! | `web` (routes, pages, extractors) | `services`, `state`, `db`, `clients`, `domain`, `crypto`, `config`, `error`, `telemetry` — never `jobs` |
//! | `jobs` (outbox runner, deliverers, maintenance) | the same as `web` — never `web` |
//! | `services` (what web and jobs share: database + vault + clients together; no actix request types) | `state`, `db`, `clients`, `crypto`, `domain`, `config`, `error`, `telemetry` |
//! | `state` | `db`, `clients`, `crypto`, `config`, `telemetry` |
//! | `db` (models, the outbox's kinds, the webhook writer; never a network connection) | `domain`, `crypto`, `error` |
//! | `clients` (outbound HTTP; never the database) | `domain`, `crypto`, `config`, `telemetry` |
//! | `config` | `domain`, `crypto` |
//! | `domain` (pure validated types) | `crypto::random` at most |
//! | `crypto`, `error`, `telemetry` | nothing of ours |
//!
//! What `web` and `jobs` both need lives in `services` or lower; a constant both need (an outbox
//! kind) lives with the thing it names (`db::models::outbox_kind`). A secret is read in one place
//! (`db::models::secret::read`, reached through `services::secrets`): fetch, decrypt and audit
//! row in one transaction. `tests/integration/layering.rs` reads every `src/**/*.rs` and fails,
//! naming the file and line, on any `crate::<layer>` path against this table, and names the
//! files of any import circle.

pub mod cli;
pub mod clients;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
