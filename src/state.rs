//! `AppState`: what every handler shares (pool, settings, vault). Cloned per worker; cheap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
}

impl AppState {
    /// True once setup finished (cached; see the setup gate middleware).
    pub fn is_setup_done(&self) -> bool {
        self.setup_done.load(Ordering::Acquire)
    }

    /// Marks setup as finished.
    pub fn mark_setup_done(&self) {
        self.setup_done.store(true, Ordering::Release);
    }
}
