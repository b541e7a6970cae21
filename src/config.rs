//! Typed settings: defaults < config file < `JTB__SECTION__KEY` environment variables.
//!
//! Loading never binds a port; `Settings::validate` runs before anything is started so a bad
//! value ends the process with exit code 2 and one line naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::crypto::certificate::CertificateCredential;

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
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self {
            webhook_max_body_bytes: 1024 * 1024,
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

impl Settings {
    /// Loads defaults, then the file, then the environment (`JTB__SECTION__KEY`).
    ///
    /// `explicit` is the `--config` path: it must exist. Without it the packaged path is read
    /// when present.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_from(explicit, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (tests).
    pub fn load_from(
        explicit: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        match explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::new(
                        "--config",
                        format!("{} does not exist or is not a file", path.display()),
                    ));
                }
                builder = builder.add_source(
                    config::File::from(path)
                        .format(config::FileFormat::Toml)
                        .required(true),
                );
            }
            None => {
                let default = Path::new(DEFAULT_CONFIG_PATH);
                builder = builder.add_source(
                    config::File::from(default)
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        Self::layer_environment(builder, env)
    }

    /// Settings from the text of a config file (TOML) and the environment, layered and
    /// deserialized exactly as [`Settings::load_from`] does with a file (for callers holding the
    /// text, such as the config fuzz target).
    pub fn from_toml_str(
        toml: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let builder = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml));
        Self::layer_environment(builder, env)
    }

    /// Adds `JTB__SECTION__KEY` variables over `builder`'s sources and deserializes the result.
    fn layer_environment(
        mut builder: config::ConfigBuilder<config::builder::DefaultState>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let env_map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("JTB__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("JTB")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("microsoft.service_url_hosts")
                .source(Some(env_map)),
        );
        let raw = builder.build().map_err(describe_config_error)?;
        let settings: Settings = raw.try_deserialize().map_err(describe_config_error)?;
        Ok(settings)
    }

    /// Checks every value that can be checked without IO on the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.retention.outbox_done_days > 3650 {
            return Err(ConfigError::new(
                "retention.outbox_done_days",
                "must be between 0 (keep) and 3650",
            ));
        }
        let audit = self.retention.audit_days;
        if audit != 0 && !(30..=36500).contains(&audit) {
            return Err(ConfigError::new(
                "retention.audit_days",
                "must be 0 (keep forever) or between 30 and 36500",
            ));
        }
        parse_addr("listen.internal", &self.listen.internal)?;
        if !self.listen.public.is_empty() {
            parse_addr("listen.public", &self.listen.public)?;
        }
        check_base_url("listen.internal_url", &self.listen.internal_url)?;
        check_base_url("listen.public_url", &self.listen.public_url)?;
        check_tls_pair(
            "listen.internal_tls",
            &self.listen.internal_tls_cert_file,
            &self.listen.internal_tls_key_file,
        )?;
        check_tls_pair(
            "listen.public_tls",
            &self.listen.public_tls_cert_file,
            &self.listen.public_tls_key_file,
        )?;

        let url = self.database_url()?;
        if !(url.expose_secret().starts_with("postgres://")
            || url.expose_secret().starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "database.url",
                "must start with postgresql:// or postgres://",
            ));
        }
        if self.database.pool_max_size == 0 || self.database.pool_max_size > 200 {
            return Err(ConfigError::new(
                "database.pool_max_size",
                "must be between 1 and 200",
            ));
        }
        // the pool adds it to `Instant::now()` on every checkout, which panics on overflow
        if !(1..=300).contains(&self.database.connect_timeout_secs) {
            return Err(ConfigError::new(
                "database.connect_timeout_secs",
                "must be between 1 and 300 seconds",
            ));
        }
        if self.paths.state_dir.as_os_str().is_empty() || !self.paths.state_dir.is_absolute() {
            return Err(ConfigError::new(
                "paths.state_dir",
                "must be an absolute path",
            ));
        }

        match self.microsoft.cloud.as_str() {
            "global" | "usgov" | "usgovdod" | "china" => {}
            other => {
                return Err(ConfigError::new(
                    "microsoft.cloud",
                    format!("unknown cloud `{other}`; expected global, usgov, usgovdod or china"),
                ));
            }
        }
        for (key, value) in [
            ("microsoft.tenant_id", &self.microsoft.tenant_id),
            ("microsoft.client_id", &self.microsoft.client_id),
            ("microsoft.bot_app_id", &self.microsoft.bot_app_id),
        ] {
            if !value.is_empty() && uuid::Uuid::parse_str(value).is_err() {
                return Err(ConfigError::new(
                    key,
                    "must be a GUID such as 0e3419f7-4c4d-47e7-b98a-7b9b9de02b80",
                ));
            }
        }
        if self.microsoft.client_secret.is_some() && !self.microsoft.client_secret_file.is_empty() {
            return Err(ConfigError::new(
                "microsoft.client_secret",
                "set either client_secret or client_secret_file, not both",
            ));
        }
        if !self.microsoft.client_certificate_file.is_empty()
            && (self.microsoft.client_secret.is_some()
                || !self.microsoft.client_secret_file.is_empty())
        {
            return Err(ConfigError::new(
                "microsoft.client_certificate_file",
                "set either a client certificate or a client secret, not both",
            ));
        }
        self.microsoft.client_certificate()?;
        for (key, value) in [
            ("microsoft.login_url", &self.microsoft.login_url),
            ("microsoft.graph_url", &self.microsoft.graph_url),
            (
                "microsoft.bot_openid_metadata_url",
                &self.microsoft.bot_openid_metadata_url,
            ),
            ("microsoft.bot_token_url", &self.microsoft.bot_token_url),
        ] {
            check_base_url(key, value)?;
        }
        for host in &self.microsoft.service_url_hosts {
            // a bare host, or host:port for private endpoints
            let (name, port) = host.split_once(':').unwrap_or((host, "443"));
            if name.is_empty()
                || name.contains('/')
                || name.contains('@')
                || port.parse::<u16>().map_or(true, |p| p == 0)
            {
                return Err(ConfigError::new(
                    "microsoft.service_url_hosts",
                    format!("`{host}` must be a host name, optionally with :port"),
                ));
            }
        }
        if let Some(proxy) = &self.outbound.proxy {
            let p = proxy.expose_secret();
            if !p.is_empty() {
                let parsed = url::Url::parse(p).map_err(|_| {
                    ConfigError::new("outbound.proxy", "is not a URL (http://proxy:3128)")
                })?;
                if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h") {
                    return Err(ConfigError::new(
                        "outbound.proxy",
                        "scheme must be http, https, socks5 or socks5h",
                    ));
                }
            }
        }
        if !self.outbound.ca_file.is_empty() && !Path::new(&self.outbound.ca_file).is_file() {
            return Err(ConfigError::new(
                "outbound.ca_file",
                format!("{} does not exist", self.outbound.ca_file),
            ));
        }
        if self.outbound.connect_timeout_secs == 0 || self.outbound.timeout_secs == 0 {
            return Err(ConfigError::new(
                "outbound.timeout_secs",
                "timeouts must be at least 1 second",
            ));
        }
        self.metrics.token()?;
        if !(1..=3600).contains(&self.metrics.activity_flush_secs) {
            return Err(ConfigError::new(
                "metrics.activity_flush_secs",
                "must be between 1 and 3600 seconds",
            ));
        }
        if !(1..=366).contains(&self.metrics.activity_retention_days) {
            return Err(ConfigError::new(
                "metrics.activity_retention_days",
                "must be between 1 and 366 days",
            ));
        }
        if !(5..=3600).contains(&self.outbox.lease_secs) {
            return Err(ConfigError::new(
                "outbox.lease_secs",
                "must be between 5 and 3600 seconds",
            ));
        }
        if !(1..=100).contains(&self.outbox.max_attempts) {
            return Err(ConfigError::new(
                "outbox.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if !(10..=600_000).contains(&self.outbox.backoff_base_ms) {
            return Err(ConfigError::new(
                "outbox.backoff_base_ms",
                "must be between 10 and 600000 milliseconds",
            ));
        }
        if !(1..=256).contains(&self.outbound.max_concurrent_per_tenant) {
            return Err(ConfigError::new(
                "outbound.max_concurrent_per_tenant",
                "must be between 1 and 256",
            ));
        }
        if !(1..=50).contains(&self.outbound.bot_rps_per_tenant) {
            return Err(ConfigError::new(
                "outbound.bot_rps_per_tenant",
                "must be between 1 and 50 (Teams allows a bot 50 sends per second per tenant)",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError::new(
                "log.level",
                "is not a valid filter (try info, debug or warn)",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::new("log.format", "must be text or json"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.jira.webhook_max_body_bytes) {
            return Err(ConfigError::new(
                "jira.webhook_max_body_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        // sign-in turns these into chrono durations and subtracts them from now, which panics
        // far beyond these bounds (and `hours * 60` overflowed for huge values)
        let a = &self.admin;
        if !(1..=8760).contains(&a.session_absolute_hours) {
            return Err(ConfigError::new(
                "admin.session_absolute_hours",
                "must be between 1 and 8760 (a year)",
            ));
        }
        if a.session_idle_mins < 1 || a.session_idle_mins > a.session_absolute_hours * 60 {
            return Err(ConfigError::new(
                "admin.session_idle_mins",
                "must be at least 1 and not longer than admin.session_absolute_hours",
            ));
        }
        if a.login_max_failures < 1 {
            return Err(ConfigError::new(
                "admin.login_max_failures",
                "must be at least 1",
            ));
        }
        if !(1..=10080).contains(&a.login_lockout_mins) {
            return Err(ConfigError::new(
                "admin.login_lockout_mins",
                "must be between 1 and 10080 (a week)",
            ));
        }
        Ok(())
    }

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

fn check_base_url(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Ok(());
    }
    let url = url::Url::parse(value)
        .map_err(|_| ConfigError::new(key, format!("`{value}` is not a URL")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(key, "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(key, "must not contain credentials"));
    }
    Ok(())
}

fn check_tls_pair(key: &str, cert: &str, private_key: &str) -> Result<(), ConfigError> {
    match (cert.is_empty(), private_key.is_empty()) {
        (true, true) => Ok(()),
        (false, false) => {
            for (suffix, file) in [("cert_file", cert), ("key_file", private_key)] {
                if !Path::new(file).is_file() {
                    return Err(ConfigError::new(
                        &format!("{key}_{suffix}"),
                        format!("{file} does not exist"),
                    ));
                }
            }
            load_tls(cert, private_key)
                .map(|_| ())
                .map_err(|e| ConfigError::new(&format!("{key}_cert_file"), format!("{e:#}")))
        }
        _ => Err(ConfigError::new(
            &format!("{key}_cert_file"),
            "cert_file and key_file must be set together",
        )),
    }
}

/// Loads a PEM certificate chain and private key into a rustls server configuration.
pub fn load_tls(cert: &str, key: &str) -> anyhow::Result<rustls::ServerConfig> {
    use anyhow::Context;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {cert}"))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad PEM in TLS certificate {cert}"))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {cert}");
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read TLS private key {key}"))?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not fit together")
}

/// Turns the `config` crate's errors into one line that names the key.
fn describe_config_error(err: config::ConfigError) -> ConfigError {
    let text = err.to_string();
    let key = match &err {
        config::ConfigError::Type { key: Some(k), .. } => k.clone(),
        config::ConfigError::At { key: Some(k), .. } => k.clone(),
        config::ConfigError::NotFound(k) => k.clone(),
        _ => extract_key(&text).unwrap_or_else(|| "config".into()),
    };
    ConfigError {
        key,
        problem: text.replace('\n', " "),
    }
}

fn extract_key(text: &str) -> Option<String> {
    let start = text.find("for key `")? + "for key `".len();
    let end = text[start..].find('`')? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load_from(Some(Path::new("/dev/null/none")), env(&[])).unwrap_err();
        assert_eq!(s.key, "--config");
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.listen.internal, "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = Settings::load_from(
            None,
            env(&[
                ("JTB__LISTEN__INTERNAL", "127.0.0.1:9999"),
                ("JTB__DATABASE__POOL_MAX_SIZE", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.internal, "127.0.0.1:9999");
        assert_eq!(s.database.pool_max_size, 3);
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let err = Settings::load_from(None, env(&[("JTB__LISTEN__INTRENAL", "x")])).unwrap_err();
        assert!(err.to_string().contains("intrenal"), "{err}");
    }

    #[test]
    fn the_packaged_example_config_loads_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.example.toml");
        let s = Settings::load_from(Some(&path), env(&[])).unwrap();
        s.validate().unwrap();
        assert_eq!(s.jira.webhook_max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn bad_cloud_is_refused_with_its_key() {
        let s = Settings::load_from(None, env(&[("JTB__MICROSOFT__CLOUD", "mars")])).unwrap();
        let err = s.validate().unwrap_err();
        assert_eq!(err.key, "microsoft.cloud");
    }

    #[test]
    fn a_bot_rate_beyond_what_teams_allows_is_refused_with_its_key() {
        for bad in ["0", "51", "5000"] {
            let s = Settings::load_from(None, env(&[("JTB__OUTBOUND__BOT_RPS_PER_TENANT", bad)]))
                .unwrap();
            assert_eq!(s.validate().unwrap_err().key, "outbound.bot_rps_per_tenant");
        }
        let s =
            Settings::load_from(None, env(&[("JTB__OUTBOUND__BOT_RPS_PER_TENANT", "20")])).unwrap();
        s.validate().unwrap();
        assert_eq!(s.outbound.bot_rps_per_tenant, 20);
    }

    /// Found while writing the `config` fuzz target: huge admin durations and connect timeouts
    /// passed validation (or overflowed in it), and sign-in or every pool checkout then panicked.
    #[test]
    fn durations_the_daemon_cannot_represent_are_refused_with_their_key() {
        for (text, key) in [
            (
                "[admin]\nsession_absolute_hours = 153722867280912931",
                "admin.session_absolute_hours",
            ),
            (
                "[admin]\nsession_absolute_hours = 8761",
                "admin.session_absolute_hours",
            ),
            (
                "[admin]\nsession_absolute_hours = 1\nsession_idle_mins = 61",
                "admin.session_idle_mins",
            ),
            (
                "[admin]\nlogin_lockout_mins = 200000000000000",
                "admin.login_lockout_mins",
            ),
            (
                "[database]\nconnect_timeout_secs = 9223372036854775807",
                "database.connect_timeout_secs",
            ),
        ] {
            let s = Settings::from_toml_str(text, env(&[])).unwrap();
            assert_eq!(s.validate().unwrap_err().key, key, "{text}");
        }
        let longest = "[admin]\nsession_absolute_hours = 8760\nsession_idle_mins = 525600\n\
                       login_lockout_mins = 10080\n[database]\nconnect_timeout_secs = 300";
        Settings::from_toml_str(longest, env(&[]))
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn config_text_is_read_like_a_file_and_unknown_keys_are_named() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let from_text = Settings::from_toml_str(&text, env(&[])).unwrap();
        from_text.validate().unwrap();
        let from_file = Settings::load_from(Some(&path), env(&[])).unwrap();
        assert_eq!(format!("{from_text:?}"), format!("{from_file:?}"));
        let err = Settings::from_toml_str("[listen]\nintrenal = \"x\"", env(&[])).unwrap_err();
        assert!(err.to_string().contains("intrenal"), "{err}");
    }

    #[test]
    fn retention_horizons_are_validated() {
        for (key, value) in [
            ("JTB__RETENTION__AUDIT_DAYS", "7"),
            ("JTB__RETENTION__OUTBOX_DONE_DAYS", "99999"),
        ] {
            let s = Settings::load_from(None, env(&[(key, value)])).unwrap();
            let err = s.validate().unwrap_err();
            assert!(err.key.starts_with("retention."), "{key}");
        }
        let s = Settings::load_from(None, env(&[("JTB__RETENTION__AUDIT_DAYS", "0")])).unwrap();
        s.validate().unwrap();
        assert_eq!(Settings::default().retention.outbox_done_days, 14);
    }
}
