//! jira-teams-bridge: a self-hosted appliance that connects Jira Data Center to Microsoft Teams,
//! keeping all integration data in the operator's PostgreSQL.
//!
//! Layers, top to bottom (imports only run downwards): `startup` → `web` → `state` → `cli` →
//! `db`, `config` → `domain`, `crypto`, `error`, `telemetry`.

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
