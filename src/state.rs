//! `AppState`: what every handler shares (pool, settings, vault). Cloned per worker; cheap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::SecretString;
use uuid::Uuid;

use crate::clients::http::OutboundHttp;
use crate::config::Settings;
use crate::crypto::Vault;
use crate::db::DbPool;

/// Shared state of the web handlers.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub vault: Arc<Vault>,
    /// How browsers reach the internal listener, without trailing slash.
    pub internal_url: String,
    /// Cookies carry `Secure` (internal listener on TLS, or reached through https).
    pub secure_cookies: bool,
    /// Set once an admin exists; until then only `/setup` works.
    pub setup_done: Arc<AtomicBool>,
    pub started_at: Instant,
    /// Decrypted shared secrets, keyed by instance and checked against the ciphertext they came
    /// from, so each decryption (audited) serves requests for a few minutes.
    pub secret_cache: Arc<Mutex<HashMap<(Uuid, &'static str), CachedSecret>>>,
    /// The one outbound HTTP stack (proxy, CA bundle, timeouts, retries).
    pub http: OutboundHttp,
    /// The Microsoft connection built from the current registration (see `services::connections`).
    pub microsoft: Arc<tokio::sync::Mutex<Option<MicrosoftSlot>>>,
    /// One lock per token row: refreshes of one user's token never run concurrently here (a
    /// database lease covers other daemons).
    pub refresh_locks: Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>>,
    /// This process's metrics (`/metrics`) and unflushed dashboard activity counts.
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
    /// Paces Bot Connector calls per tenant and conversation (`outbound.bot_rps_per_tenant`).
    pub bot_rate: Arc<crate::clients::bot_rate::BotRateLimiter>,
    /// Wakes this process's outbox runner when something was queued (other daemons poll).
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Writes accepted webhook events to the outbox, many per transaction.
    pub webhook_writer: crate::db::webhook_writer::WebhookWriter,
}

/// The built Microsoft clients, the fingerprint of the registration they were built from, and
/// when that fingerprint was last compared with the database.
pub type MicrosoftSlot = (
    String,
    Arc<crate::clients::microsoft::MicrosoftConn>,
    Instant,
);

/// A decrypted secret held in memory for a short time.
#[derive(Clone)]
pub struct CachedSecret {
    pub ciphertext_hash: [u8; 32],
    pub secret: SecretString,
    pub fetched_at: Instant,
}

impl AppState {
    /// True once setup finished (cached; see the setup gate middleware).
    pub fn is_setup_done(&self) -> bool {
        self.setup_done.load(Ordering::Acquire)
    }

    /// The refresh lock of a token row.
    pub fn refresh_lock(&self, row: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(row).or_default().clone()
    }

    /// Marks setup as finished.
    pub fn mark_setup_done(&self) {
        self.setup_done.store(true, Ordering::Release);
    }
}
