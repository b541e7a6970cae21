//! The versioned master keyring: one 256-bit key per version, the highest being current.
//!
//! File format (text, mode 0600): one `v<N> <base64 of 32 bytes>` line per key, `#` comments.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// A 256-bit AES key.
pub type Key = Zeroizing<[u8; 32]>;

/// Problems reading or writing the keyring file.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("master key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("master key file {path} line {line}: {problem}")]
    Format {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error(
        "master key file {path} is readable by group or others (mode {mode:o}); run chmod 600 on it"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("master key file {path} holds no key")]
    Empty { path: PathBuf },
}

/// All key versions known to this process.
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<u32, Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring with one fresh random key as version 1.
    pub fn generate() -> Keyring {
        let mut keys = BTreeMap::new();
        keys.insert(1, random_key());
        Keyring { keys }
    }

    /// Parses the file format.
    pub fn parse(text: &str, path: &Path) -> Result<Keyring, KeyringError> {
        let mut keys = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |problem: &str| KeyringError::Format {
                path: path.to_owned(),
                line: i + 1,
                problem: problem.into(),
            };
            let (version, encoded) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| fail("expected `v<N> <base64 key>`"))?;
            let version: u32 = version
                .strip_prefix('v')
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| fail("version must look like v1"))?;
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| fail("key is not base64"))?,
            );
            if bytes.len() != 32 {
                return Err(fail("key must be 32 bytes (256 bits)"));
            }
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&bytes);
            if keys.insert(version, key).is_some() {
                return Err(fail("version appears twice"));
            }
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Keyring { keys })
    }

    /// Reads a keyring file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let io = |source| KeyringError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyringError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io)?);
        Keyring::parse(&text, path)
    }

    /// Loads the keyring, creating it (mode 0600, fresh key) when `create` and it does not exist.
    /// Returns the keyring and whether it was created.
    pub fn load_or_create(path: &Path, create: bool) -> Result<(Keyring, bool), KeyringError> {
        if create && !path.exists() {
            let ring = Keyring::generate();
            ring.write_new(path)?;
            return Ok((ring, true));
        }
        Ok((Keyring::load(path)?, false))
    }

    fn render(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(
            "# jira-teams-bridge master keyring: keep it secret, back it up with the database.\n",
        ));
        for (v, k) in &self.keys {
            out.push_str(&format!("v{v} {}\n", STANDARD.encode(k.as_slice())));
        }
        out
    }

    /// Writes a file that must not exist yet (0600, created exclusively).
    fn write_new(&self, path: &Path) -> Result<(), KeyringError> {
        let io = |source| KeyringError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(self.render().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// Atomically replaces the file at `path` with this keyring (temp file, fsync, rename).
    pub fn write_replace(&self, path: &Path) -> Result<(), KeyringError> {
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        self.write_new(&tmp)?;
        // keep the owner of the file being replaced, so `sudo rotate-key` does not leave a
        // root-owned key the service user cannot read
        if let Ok(meta) = fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            if let Err(source) = std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()))
            {
                let _ = fs::remove_file(&tmp);
                return Err(KeyringError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        fs::rename(&tmp, path).map_err(|source| KeyringError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The version new ciphertexts are made with.
    pub fn current_version(&self) -> u32 {
        self.keys.keys().next_back().copied().unwrap_or(1)
    }

    /// The current key.
    pub fn current(&self) -> (u32, &Key) {
        let v = self.current_version();
        (v, &self.keys[&v])
    }

    /// A key by version.
    pub fn get(&self, version: u32) -> Option<&Key> {
        self.keys.get(&version)
    }

    /// Every version held.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// Adds a fresh key as the new current version and returns that version.
    pub fn add_version(&mut self) -> u32 {
        let v = self.current_version() + 1;
        self.keys.insert(v, random_key());
        v
    }

    /// A keyring holding only `keep`; the rest are returned as a second keyring.
    pub fn split_off_all_but(&self, keep: u32) -> (Keyring, Keyring) {
        let mut kept = BTreeMap::new();
        let mut retired = BTreeMap::new();
        for (v, k) in &self.keys {
            if *v == keep {
                kept.insert(*v, k.clone())
            } else {
                retired.insert(*v, k.clone())
            };
        }
        (Keyring { keys: kept }, Keyring { keys: retired })
    }

    /// True when the keyring holds no key at all (only possible for a split-off remainder).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn random_key() -> Key {
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&super::random::bytes(32));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file_format() {
        let mut ring = Keyring::generate();
        ring.add_version();
        let text = ring.render();
        let parsed = Keyring::parse(&text, Path::new("k")).unwrap();
        assert_eq!(parsed.versions(), vec![1, 2]);
        assert_eq!(parsed.current_version(), 2);
        assert_eq!(
            parsed.get(1).unwrap().as_slice(),
            ring.get(1).unwrap().as_slice()
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = Keyring::parse("# c\nv1 abc\n", Path::new("k")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(Keyring::parse("", Path::new("k")).is_err());
    }
}
