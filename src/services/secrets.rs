//! Decrypted secrets held in memory for a few minutes, so a burst of requests costs one audited
//! read. An entry is keyed by row and secret kind and only serves while the stored ciphertext is
//! the one it came from, so a rotated or regenerated secret takes effect at once.

use std::time::Duration;

use secrecy::SecretString;
use uuid::Uuid;

use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::secret::{self, ReadContext, SecretColumn};
use crate::error::AppError;
use crate::state::{AppState, CachedSecret};

/// How long a decrypted secret serves before it is read (and audited) again.
pub const SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

/// Whether a read may be served from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// From the cache while fresh: one audit row per burst.
    PerBurst,
    /// Always decrypt, so this use gets its own audit row (reads on someone else's behalf).
    EveryRead,
    /// Always decrypt and never keep it (refresh tokens: each is used once).
    EveryReadUncached,
}

/// The secret in `col` of `row`, whose stored ciphertext is `ciphertext`, read through the
/// audited vault unless a fresh cached copy of that very ciphertext exists.
pub async fn read(
    state: &AppState,
    row: Uuid,
    col: SecretColumn,
    ciphertext: &[u8],
    ctx: (Actor, &str, &str),
    audit: Audit,
) -> Result<SecretString, AppError> {
    let fingerprint = openssl::sha::sha256(ciphertext);
    let key = (row, col.kind);
    if audit == Audit::PerBurst
        && let Ok(cache) = state.secret_cache.lock()
        && let Some(c) = cache.get(&key)
        && c.ciphertext_hash == fingerprint
        && c.fetched_at.elapsed() < SECRET_CACHE_TTL
    {
        return Ok(c.secret.clone());
    }
    let (actor, purpose, label) = (ctx.0, ctx.1.to_owned(), ctx.2.to_owned());
    let vault = state.vault.clone();
    let secret = db::run(&state.pool, move |conn| {
        let ctx = ReadContext {
            actor: &actor,
            purpose: &purpose,
            label: &label,
        };
        Ok(secret::read(conn, &vault, col, row, &ctx))
    })
    .await?
    .map_err(AppError::internal)?;
    if audit != Audit::EveryReadUncached
        && let Ok(mut cache) = state.secret_cache.lock()
    {
        cache.insert(
            key,
            CachedSecret {
                ciphertext_hash: fingerprint,
                secret: secret.clone(),
                fetched_at: std::time::Instant::now(),
            },
        );
    }
    Ok(secret)
}

/// A secret of a Jira instance through the audited read, cached per ciphertext for a few
/// minutes; the audit row names `actor` and the instance's public ID.
pub async fn cached_secret(
    state: &AppState,
    instance: &JiraInstance,
    column: SecretColumn,
    ciphertext: &[u8],
    actor: Actor,
    purpose: &'static str,
) -> Result<SecretString, AppError> {
    let label = instance.public_id.as_str();
    read(
        state,
        instance.id,
        column,
        ciphertext,
        (actor, purpose, label),
        Audit::PerBurst,
    )
    .await
}
