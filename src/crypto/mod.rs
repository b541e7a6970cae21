//! Cryptography owned by the appliance: the secret vault (AES-256-GCM over a versioned keyring),
//! admin password hashing (argon2id), random tokens and the Entra ID client certificate. Pure: no
//! database, no network.

pub mod certificate;
pub mod jwt;
pub mod keyring;
pub mod password;
pub mod pkce;
pub mod random;
pub mod vault;

pub use keyring::{Keyring, KeyringError};
pub use vault::{SecretLocation, Vault, VaultError};
