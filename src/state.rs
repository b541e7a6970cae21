//! `AppState`: what every handler shares (pool, settings, vault). Cloned per worker; cheap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::SecretString;
use uuid::Uuid;

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
}

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

    /// Marks setup as finished.
    pub fn mark_setup_done(&self) {
        self.setup_done.store(true, Ordering::Release);
    }
}
