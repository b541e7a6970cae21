//! The secret vault: AES-256-GCM (OpenSSL) with a random 96-bit nonce per encryption and
//! associated data naming the table, column and row a ciphertext belongs to, so a ciphertext
//! copied to another row or column does not decrypt.
//!
//! Ciphertext layout: `b"JTB1"` | key version (u32, big endian) | nonce (12) | ciphertext | tag (16).
//! The vault never audits: reads go through `db::models::secret`, which writes the audit row.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::keyring::{Keyring, KeyringError};

const MAGIC: &[u8; 4] = b"JTB1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 4 + NONCE_LEN;

/// Where a ciphertext lives; bound into it as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretLocation {
    pub table: &'static str,
    pub column: &'static str,
    pub row: Uuid,
}

impl SecretLocation {
    fn aad(&self) -> Vec<u8> {
        format!(
            "jira-teams-bridge/v1/{}/{}/{}",
            self.table, self.column, self.row
        )
        .into_bytes()
    }
}

/// Why a ciphertext could not be made or opened. Messages never contain key or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext uses key version {0}, which this keyring does not hold")]
    UnknownKeyVersion(u32),
    #[error("ciphertext does not authenticate for this location (tampered, moved or wrong key)")]
    Authentication,
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

/// Encrypts and decrypts secrets with the current keyring, reloading it from disk when another
/// process (`rotate-key`) has changed it.
pub struct Vault {
    path: Option<PathBuf>,
    state: RwLock<(Keyring, Option<SystemTime>)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("path", &self.path).finish()
    }
}

impl Vault {
    /// A vault over a keyring file.
    pub fn open(path: &Path, create: bool) -> Result<(Vault, bool), KeyringError> {
        let (ring, created) = Keyring::load_or_create(path, create)?;
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok((
            Vault {
                path: Some(path.to_owned()),
                state: RwLock::new((ring, mtime)),
            },
            created,
        ))
    }

    /// A vault over an in-memory keyring (unit tests, tools).
    pub fn from_keyring(ring: Keyring) -> Vault {
        Vault {
            path: None,
            state: RwLock::new((ring, None)),
        }
    }

    /// The keyring file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A copy of the keyring as currently loaded.
    pub fn keyring(&self) -> Keyring {
        self.read_state().0.clone()
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, (Keyring, Option<SystemTime>)> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-reads the keyring file when its modification time changed.
    pub fn reload_if_changed(&self) -> Result<bool, KeyringError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if mtime.is_some() && mtime == self.read_state().1 {
            return Ok(false);
        }
        let ring = Keyring::load(path)?;
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        *guard = (ring, mtime);
        Ok(true)
    }

    /// Replaces the in-memory keyring (after `rotate-key` wrote a new file).
    pub fn replace_keyring(&self, ring: Keyring) {
        let mtime = self
            .path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        *guard = (ring, mtime);
    }

    /// Encrypts and decrypts a probe value with the current key (readiness check).
    pub fn self_test(&self) -> bool {
        let loc = SecretLocation {
            table: "probe",
            column: "probe",
            row: Uuid::nil(),
        };
        self.encrypt(b"probe", &loc)
            .and_then(|b| self.decrypt(&b, &loc))
            .is_ok_and(|p| p.as_slice() == b"probe")
    }

    /// The key version new ciphertexts use.
    pub fn current_version(&self) -> u32 {
        self.read_state().0.current_version()
    }

    /// Encrypts `plaintext` for `loc` under the current key.
    pub fn encrypt(&self, plaintext: &[u8], loc: &SecretLocation) -> Result<Vec<u8>, VaultError> {
        // A rotation by another process must not leave us writing under a retired key.
        self.reload_if_changed()?;
        let state = self.read_state();
        let (version, key) = state.0.current();
        encrypt_with(version, key.as_slice(), plaintext, loc)
    }

    /// HMAC-SHA256 of `data` under a key derived from the current master key for `purpose`
    /// (signed links). Rotating the master key invalidates what was signed before.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, VaultError> {
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::sign::Signer;
        let hmac = |key: &[u8], msg: &[u8]| -> Result<Vec<u8>, VaultError> {
            let e = |e: openssl::error::ErrorStack| VaultError::Encrypt(e.to_string());
            let pkey = PKey::hmac(key).map_err(e)?;
            let mut signer = Signer::new(MessageDigest::sha256(), &pkey).map_err(e)?;
            signer.update(msg).map_err(e)?;
            signer.sign_to_vec().map_err(e)
        };
        let state = self.read_state();
        let (_, key) = state.0.current();
        let derived = Zeroizing::new(hmac(
            key.as_slice(),
            format!("jira-teams-bridge/mac/{purpose}").as_bytes(),
        )?);
        hmac(&derived, data)
    }

    /// Decrypts a ciphertext made for `loc`. Crate-private: reads go through
    /// `db::models::secret::read`, which audits them.
    pub(crate) fn decrypt(
        &self,
        blob: &[u8],
        loc: &SecretLocation,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let version = blob_version(blob)?;
        if self.read_state().0.get(version).is_none() {
            self.reload_if_changed()?;
        }
        let state = self.read_state();
        let key = state
            .0
            .get(version)
            .ok_or(VaultError::UnknownKeyVersion(version))?;
        decrypt_with(key.as_slice(), blob, loc)
    }
}

/// The key version a ciphertext was made with.
pub fn blob_version(blob: &[u8]) -> Result<u32, VaultError> {
    if blob.len() < HEADER_LEN + TAG_LEN || &blob[..4] != MAGIC {
        return Err(VaultError::Malformed);
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&blob[4..8]);
    Ok(u32::from_be_bytes(v))
}

fn encrypt_with(
    version: u32,
    key: &[u8],
    plaintext: &[u8],
    loc: &SecretLocation,
) -> Result<Vec<u8>, VaultError> {
    let nonce = super::random::bytes(NONCE_LEN);
    let mut tag = [0u8; TAG_LEN];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        key,
        Some(&nonce),
        &loc.aad(),
        plaintext,
        &mut tag,
    )
    .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    Ok(out)
}

fn decrypt_with(
    key: &[u8],
    blob: &[u8],
    loc: &SecretLocation,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let nonce = &blob[8..HEADER_LEN];
    let (ct, tag) = blob[HEADER_LEN..].split_at(blob.len() - HEADER_LEN - TAG_LEN);
    decrypt_aead(Cipher::aes_256_gcm(), key, Some(nonce), &loc.aad(), ct, tag)
        .map(Zeroizing::new)
        .map_err(|_| VaultError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(row: Uuid) -> SecretLocation {
        SecretLocation {
            table: "jira_instance",
            column: "shared_secret",
            row,
        }
    }

    #[test]
    fn round_trip_and_fresh_nonce_each_time() {
        let vault = Vault::from_keyring(Keyring::generate());
        let l = loc(Uuid::new_v4());
        let a = vault.encrypt(b"top secret", &l).unwrap();
        let b = vault.encrypt(b"top secret", &l).unwrap();
        assert_ne!(a, b, "nonce must differ");
        assert_eq!(vault.decrypt(&a, &l).unwrap().as_slice(), b"top secret");
        assert!(!a.windows(10).any(|w| w == b"top secret"));
    }

    #[test]
    fn ciphertext_bound_to_row_and_column() {
        let vault = Vault::from_keyring(Keyring::generate());
        let l = loc(Uuid::new_v4());
        let blob = vault.encrypt(b"s", &l).unwrap();
        assert!(matches!(
            vault.decrypt(&blob, &loc(Uuid::new_v4())),
            Err(VaultError::Authentication)
        ));
        let other_col = SecretLocation {
            column: "webhook_secret",
            ..l
        };
        assert!(matches!(
            vault.decrypt(&blob, &other_col),
            Err(VaultError::Authentication)
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let vault = Vault::from_keyring(Keyring::generate());
        let l = loc(Uuid::new_v4());
        let mut blob = vault.encrypt(b"secret", &l).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(matches!(
            vault.decrypt(&blob, &l),
            Err(VaultError::Authentication)
        ));
        assert!(matches!(
            vault.decrypt(b"JTB1", &l),
            Err(VaultError::Malformed)
        ));
    }

    #[test]
    fn old_versions_stay_readable_after_adding_a_key() {
        let mut ring = Keyring::generate();
        let vault = Vault::from_keyring(ring.clone());
        let l = loc(Uuid::new_v4());
        let old = vault.encrypt(b"s", &l).unwrap();
        ring.add_version();
        vault.replace_keyring(ring);
        let new = vault.encrypt(b"s", &l).unwrap();
        assert_eq!(blob_version(&old).unwrap(), 1);
        assert_eq!(blob_version(&new).unwrap(), 2);
        assert_eq!(vault.decrypt(&old, &l).unwrap().as_slice(), b"s");
    }
}
