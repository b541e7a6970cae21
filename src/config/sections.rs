//! The typed `[section]`s of the config file, each with the defaults a missing key takes.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;
use crate::crypto::certificate::CertificateCredential;

/// `[retention]`: how long finished deliveries and audit rows are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Delivered and dead outbox rows older than this many days are deleted (0 = keep).
    pub outbox_done_days: u32,
    /// Secret access audit rows older than this many days are deleted (0 = keep forever;
    /// otherwise at least 30, the database refuses shorter horizons).
    pub audit_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            outbox_done_days: 14,
            audit_days: 400,
        }
    }
}

/// `[outbox]`: the delivery queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// How long a claimed delivery stays with its runner; after a crash it returns to the
    /// queue when this expires.
    pub lease_secs: u64,
    /// Attempts before a delivery is given up (shown as failed in the admin UI).
    pub max_attempts: i32,
    /// The first retry's delay; each further attempt doubles it, up to one hour.
    pub backoff_base_ms: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            lease_secs: 60,
            max_attempts: 8,
            backoff_base_ms: 5000,
        }
    }
}

/// `[jira]`: the Jira side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JiraSettings {
    /// Larger webhook bodies are refused with 413.
    pub webhook_max_body_bytes: usize,
    /// A Jira user's session on the appliance's pages ends after this many idle minutes...
    pub user_session_idle_mins: i64,
    /// ...and at the latest this many hours after they signed in with Jira.
    pub user_session_absolute_hours: i64,
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self {
            webhook_max_body_bytes: 1024 * 1024,
            user_session_idle_mins: 120,
            user_session_absolute_hours: 12,
        }
    }
}

/// `[listen]`: the internal listener and the optional public (bot-only) listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSettings {
    pub internal: String,
    pub internal_url: String,
    pub internal_tls_cert_file: String,
    pub internal_tls_key_file: String,
    pub public: String,
    pub public_url: String,
    pub public_tls_cert_file: String,
    pub public_tls_key_file: String,
    pub shutdown_timeout_secs: u64,
    pub workers: usize,
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            internal: "127.0.0.1:8080".into(),
            internal_url: String::new(),
            internal_tls_cert_file: String::new(),
            internal_tls_key_file: String::new(),
            public: String::new(),
            public_url: String::new(),
            public_tls_cert_file: String::new(),
            public_tls_key_file: String::new(),
            shutdown_timeout_secs: 30,
            workers: 0,
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// May carry a password, hence secret.
    pub url: SecretString,
    /// Read the URL from this file instead (systemd credentials).
    pub url_file: String,
    pub pool_max_size: u32,
    pub connect_timeout_secs: u64,
    /// `serve` applies pending migrations before binding unless this is false.
    pub run_migrations: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgresql:///jira_teams_bridge?host=/var/run/postgresql"),
            url_file: String::new(),
            pool_max_size: 10,
            connect_timeout_secs: 5,
            run_migrations: true,
        }
    }
}

/// `[paths]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathSettings {
    pub state_dir: PathBuf,
    /// Explicit master key file; empty = `$CREDENTIALS_DIRECTORY/master-key`, else `<state_dir>/master-key`.
    pub master_key_file: String,
}

impl Default for PathSettings {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from("/var/lib/jira-teams-bridge"),
            master_key_file: String::new(),
        }
    }
}

/// `[microsoft]`: the app registration and endpoint overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MicrosoftSettings {
    pub cloud: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub client_secret_file: String,
    /// PEM file with the certificate and its private key, instead of a client secret.
    pub client_certificate_file: String,
    pub bot_app_id: String,
    pub login_url: String,
    pub graph_url: String,
    pub bot_openid_metadata_url: String,
    pub bot_token_url: String,
    pub service_url_hosts: Vec<String>,
}

impl Default for MicrosoftSettings {
    fn default() -> Self {
        Self {
            cloud: "global".into(),
            tenant_id: String::new(),
            client_id: String::new(),
            client_secret: None,
            client_secret_file: String::new(),
            client_certificate_file: String::new(),
            bot_app_id: String::new(),
            login_url: String::new(),
            graph_url: String::new(),
            bot_openid_metadata_url: String::new(),
            bot_token_url: String::new(),
            service_url_hosts: Vec::new(),
        }
    }
}

impl MicrosoftSettings {
    /// The client certificate named by `client_certificate_file`, if set: read and parsed, or an
    /// error naming the key (never quoting the file).
    pub fn client_certificate(&self) -> Result<Option<CertificateCredential>, ConfigError> {
        const KEY: &str = "microsoft.client_certificate_file";
        if self.client_certificate_file.is_empty() {
            return Ok(None);
        }
        let pem = zeroize::Zeroizing::new(
            std::fs::read(&self.client_certificate_file)
                .map_err(|e| ConfigError::new(KEY, format!("cannot read it: {e}")))?,
        );
        CertificateCredential::from_pem(&pem)
            .map(Some)
            .map_err(|e| ConfigError::new(KEY, e.to_string()))
    }
}

/// `[outbound]`: corporate proxy and CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// May carry proxy credentials, hence secret.
    pub proxy: Option<SecretString>,
    pub no_proxy: String,
    pub ca_file: String,
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
    /// Calls to Microsoft in flight at once per tenant (Graph throttles per app and tenant).
    pub max_concurrent_per_tenant: usize,
    /// Bot Connector calls per second per tenant (Teams allows an app 50; PROTOCOLS.md §3.6).
    pub bot_rps_per_tenant: u32,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            proxy: None,
            no_proxy: String::new(),
            ca_file: String::new(),
            connect_timeout_secs: 5,
            timeout_secs: 30,
            max_concurrent_per_tenant: 16,
            bot_rps_per_tenant: 50,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter: `info`, `debug`, `jira_teams_bridge=debug,actix_web=info`.
    pub level: String,
    /// `text` (key=value) or `json`.
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// `[metrics]`: `/metrics` and the dashboard's activity charts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A file holding a bearer token; when set, `/metrics` answers only requests with
    /// `Authorization: Bearer <token>`. Empty: open, like `/healthz` (internal listener only).
    pub token_file: String,
    /// How often this process adds its activity counts to the database (dashboard charts).
    pub activity_flush_secs: u64,
    /// Hourly activity counts older than this are deleted.
    pub activity_retention_days: u32,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            token_file: String::new(),
            activity_flush_secs: 15,
            activity_retention_days: 7,
        }
    }
}

impl MetricsSettings {
    /// The token of `token_file`, if set: read, trimmed, never empty.
    pub fn token(&self) -> Result<Option<SecretString>, ConfigError> {
        const KEY: &str = "metrics.token_file";
        if self.token_file.is_empty() {
            return Ok(None);
        }
        let raw = zeroize::Zeroizing::new(
            std::fs::read_to_string(&self.token_file)
                .map_err(|e| ConfigError::new(KEY, format!("cannot read it: {e}")))?,
        );
        let token = raw.trim();
        if token.len() < 16 {
            return Err(ConfigError::new(
                KEY,
                "the token must be at least 16 characters",
            ));
        }
        Ok(Some(SecretString::from(token.to_owned())))
    }
}

/// `[admin]`: admin sessions and login throttling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    pub session_idle_mins: i64,
    pub session_absolute_hours: i64,
    pub login_max_failures: i64,
    pub login_lockout_mins: i64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            session_idle_mins: 30,
            session_absolute_hours: 12,
            login_max_failures: 5,
            login_lockout_mins: 15,
        }
    }
}
