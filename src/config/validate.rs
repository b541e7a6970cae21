//! `Settings::validate`: every check that needs no network, run before anything is started so a
//! bad value ends the process naming its key.

use std::path::Path;

use secrecy::ExposeSecret;

use super::tls::check_tls_pair;
use super::{ConfigError, Settings, parse_addr};

impl Settings {
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
        let j = &self.jira;
        if !(1..=8760).contains(&j.user_session_absolute_hours) {
            return Err(ConfigError::new(
                "jira.user_session_absolute_hours",
                "must be between 1 and 8760 (a year)",
            ));
        }
        if j.user_session_idle_mins < 1
            || j.user_session_idle_mins > j.user_session_absolute_hours * 60
        {
            return Err(ConfigError::new(
                "jira.user_session_idle_mins",
                "must be at least 1 and not longer than jira.user_session_absolute_hours",
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Settings;

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
