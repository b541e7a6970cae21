//! The real daemon binary (`serve`) as a process of its own: a free port, the environment that
//! points it at a test's database and doubles, and a handle that kills it when dropped.

use std::path::Path;
use std::time::{Duration, Instant};

/// A free loopback port (bound and released at once) for a daemon started with [`serve`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The environment [`serve`] runs the daemon with: database `db_url`, state in `state_dir`,
/// listening on `port`, app tokens from the Entra double at `entra_base`, cards to the Bot
/// Connector double at `bot_host` over TLS trusted through `ca_file`. Callers append their own.
pub fn daemon_env(
    db_url: &str,
    state_dir: &std::path::Path,
    port: u16,
    entra_base: &str,
    bot_host: &str,
    ca_file: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("JTB__DATABASE__URL", db_url.to_owned()),
        ("JTB__PATHS__STATE_DIR", state_dir.display().to_string()),
        ("JTB__LISTEN__INTERNAL", format!("127.0.0.1:{port}")),
        (
            "JTB__MICROSOFT__TENANT_ID",
            crate::fakes::entra::TENANT_ID.to_owned(),
        ),
        (
            "JTB__MICROSOFT__CLIENT_ID",
            crate::fakes::entra::CLIENT_ID.to_owned(),
        ),
        (
            "JTB__MICROSOFT__CLIENT_SECRET",
            crate::fakes::entra::CLIENT_SECRET.to_owned(),
        ),
        ("JTB__MICROSOFT__LOGIN_URL", entra_base.to_owned()),
        ("JTB__MICROSOFT__SERVICE_URL_HOSTS", bot_host.to_owned()),
        ("JTB__OUTBOUND__CA_FILE", ca_file.to_owned()),
    ]
}

/// Starts the real daemon binary against `env`; its log goes to `log`.
pub fn serve(env: &[(&str, String)], log: &std::path::Path) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jira-teams-bridge"));
    let empty = log.with_file_name("empty.toml");
    std::fs::write(&empty, "").unwrap();
    cmd.arg("--config").arg(&empty).arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("JTB__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.stdout(out.try_clone().unwrap()).stderr(out);
    cmd.spawn().unwrap()
}

/// The real daemon binary, killed (SIGKILL) when dropped so no test leaves one behind.
pub struct Daemon {
    pub child: std::process::Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Daemon {
    /// Starts `serve` with `env`, logging to `log`, and waits until it answers `/healthz`.
    pub async fn start(env: &[(&str, String)], port: u16, log: &Path) -> Daemon {
        let child = serve(env, log);
        let d = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
        };
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", d.base);
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status() == 200
            {
                return d;
            }
            assert!(
                Instant::now() < until,
                "the daemon did not start:\n{}",
                d.log_text()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until the daemon on `port` answers `/readyz`; fails with its log at `log`.
pub async fn wait_ready(port: u16, log: &std::path::Path) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await
            && r.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < until,
            "daemon on {port} not ready; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}
