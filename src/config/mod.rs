//! Typed settings: defaults < config file < `JTB__SECTION__KEY` environment variables.
//!
//! Loading never binds a port; `Settings::validate` runs before anything is started so a bad
//! value ends the process with exit code 2 and one line naming the key.
//!
//! The typed sections and their defaults are in `sections`, the layered load in `load`, the
//! checks run before start in `validate`, and the listeners' TLS files in `tls`.

mod load;
mod sections;
mod tls;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

pub use sections::{
    AdminSettings, DatabaseSettings, JiraSettings, ListenSettings, LogSettings, MetricsSettings,
    MicrosoftSettings, OutboundSettings, OutboxSettings, PathSettings, RetentionSettings,
};
pub use tls::load_tls;

/// Where the packaged config file lives when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/jira-teams-bridge/config.toml";

/// A configuration problem, always naming the key (`section.key`) at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: &str, problem: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Every setting of the daemon.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub listen: ListenSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub paths: PathSettings,
    #[serde(default)]
    pub microsoft: MicrosoftSettings,
    #[serde(default)]
    pub outbound: OutboundSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub jira: JiraSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
}

impl Settings {
    /// The database URL, read from `database.url_file` when that is set.
    pub fn database_url(&self) -> Result<SecretString, ConfigError> {
        if self.database.url_file.is_empty() {
            return Ok(self.database.url.clone());
        }
        let text = std::fs::read_to_string(&self.database.url_file).map_err(|e| {
            ConfigError::new(
                "database.url_file",
                format!("cannot read {}: {e}", self.database.url_file),
            )
        })?;
        Ok(SecretString::from(text.trim().to_owned()))
    }

    /// The internal listener's address.
    pub fn internal_addr(&self) -> Result<SocketAddr, ConfigError> {
        parse_addr("listen.internal", &self.listen.internal)
    }

    /// The public listener's address, when one is configured.
    pub fn public_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.public.is_empty() {
            return Ok(None);
        }
        parse_addr("listen.public", &self.listen.public).map(Some)
    }

    /// The URL browsers use to reach the internal listener (no trailing slash).
    pub fn internal_base_url(&self, bound: SocketAddr) -> String {
        if self.listen.internal_url.is_empty() {
            let scheme = if self.listen.internal_tls_cert_file.is_empty() {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{bound}")
        } else {
            self.listen.internal_url.trim_end_matches('/').to_owned()
        }
    }

    /// Where the master keyring is read from.
    pub fn master_key_path(&self) -> PathBuf {
        if !self.paths.master_key_file.is_empty() {
            return PathBuf::from(&self.paths.master_key_file);
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = PathBuf::from(dir).join("master-key");
            if candidate.is_file() {
                return candidate;
            }
        }
        self.paths.state_dir.join("master-key")
    }
}

fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse::<SocketAddr>().map_err(|_| {
        ConfigError::new(
            key,
            format!("`{value}` is not an address:port such as 127.0.0.1:8080"),
        )
    })
}
