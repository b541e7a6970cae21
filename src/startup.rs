//! `Application::build` opens the vault, the pool, applies migrations, binds the listeners
//! (port 0 works, for tests) and prepares first-run setup; `run_until_stopped` serves until
//! SIGTERM/SIGINT, letting in-flight requests finish.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;

use crate::clients::http::{OutboundHttp, RetryPolicy};
use crate::config::Settings;
use crate::crypto::Vault;
use crate::db;
use crate::db::models::setup_token;
use crate::error::{AppError, PageError};
use crate::state::AppState;
use crate::web::middleware::{
    csrf_cookie, portal_framing, request_log, security_headers, setup_gate,
};

/// A built, bound, not yet running appliance.
pub struct Application {
    internal_addr: SocketAddr,
    public_addr: Option<SocketAddr>,
    internal: Server,
    public: Option<Server>,
    setup_url: Option<String>,
    state: AppState,
}

impl Application {
    /// Builds everything that can fail before serving, so errors surface at start.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let settings = Arc::new(settings);
        prepare_state_dir(&settings.paths.state_dir)?;

        let key_path = settings.master_key_path();
        let create = key_path.starts_with(&settings.paths.state_dir)
            || !settings.paths.master_key_file.is_empty();
        let (vault, created) =
            Vault::open(&key_path, create).with_context(|| "cannot load the master key")?;
        if created {
            tracing::warn!(key.path = %key_path.display(), "created a new master key; back it up together with the database");
        }

        let url = settings.database_url()?;
        let pool = db::build_pool(
            &url,
            settings.database.pool_max_size,
            settings.database.connect_timeout_secs,
        )?;
        let conn_pool = pool.clone();
        let run_migrations = settings.database.run_migrations;
        let state_dir = settings.paths.state_dir.clone();
        let setup = actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Option<(String, bool)>> {
            let mut conn = conn_pool.get().context("cannot connect to PostgreSQL (database.url)")?;
            if run_migrations {
                let n = db::migrate(&mut conn)?;
                if n > 0 {
                    tracing::info!(migrations.applied = n, "database migrated");
                }
            } else if db::pending_migrations(&mut conn)? > 0 {
                anyhow::bail!("the database schema is not current; run `jira-teams-bridge migrate` (database.run_migrations is false)");
            }
            setup_token::ensure_setup_token(&mut conn, &state_dir)
        })
        .await
        .context("startup task failed")??;

        let internal_listener = bind(&settings.internal_addr()?, "listen.internal")?;
        let internal_addr = internal_listener.local_addr()?;
        let internal_url = settings.internal_base_url(display_addr(internal_addr));
        let internal_tls = !settings.listen.internal_tls_cert_file.is_empty();
        let metrics = Arc::new(crate::telemetry::metrics::Metrics::new(
            settings.metrics.token()?,
        ));
        let webhook_writer = crate::db::webhook_writer::WebhookWriter::start(pool.clone())
            .context("cannot start the webhook writer thread")?;
        let state = AppState {
            pool,
            webhook_writer,
            settings: settings.clone(),
            vault: Arc::new(vault),
            secure_cookies: internal_tls || internal_url.starts_with("https://"),
            internal_url: internal_url.clone(),
            setup_done: Arc::new(AtomicBool::new(setup.is_none())),
            started_at: Instant::now(),
            secret_cache: Default::default(),
            http: OutboundHttp::from_settings(&settings.outbound, RetryPolicy::default())?
                .with_metrics(metrics.clone()),
            microsoft: Default::default(),
            refresh_locks: Default::default(),
            metrics,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            bot_rate: Arc::new(crate::clients::bot_rate::BotRateLimiter::new(
                settings.outbound.bot_rps_per_tenant,
            )),
        };

        let setup_url = setup.map(|(token, fresh)| {
            let url = format!("{internal_url}/setup?token={token}");
            if fresh {
                tracing::warn!(setup.url = %url, "first-run setup: open this setup URL in a browser (also written to the state dir; `jira-teams-bridge setup-url` prints it again)");
            } else {
                tracing::warn!("first-run setup is not finished: `jira-teams-bridge setup-url` prints the setup URL");
            }
            url
        });

        let workers = if settings.listen.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        } else {
            settings.listen.workers
        };
        let shutdown = settings.listen.shutdown_timeout_secs;

        let data = web::Data::new(state.clone());
        let app_data = data.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                // bad path or query parameters on pages answer an HTML page (the API scope
                // sets its own problem+json handlers)
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| PageError(AppError::not_found("This page")).into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    PageError(AppError::client(
                        actix_web::http::StatusCode::BAD_REQUEST,
                        "invalid_query",
                        format!("The address has a bad parameter: {e}"),
                    ))
                    .into()
                }))
                .wrap(from_fn(setup_gate))
                .wrap(from_fn(csrf_cookie))
                .wrap(security_headers(internal_tls))
                .wrap(from_fn(portal_framing))
                .wrap(from_fn(request_log))
                .wrap(from_fn(crate::web::metrics::http_metrics))
                .configure(crate::web::internal_routes)
                .default_service(web::to(crate::web::not_found::not_found))
        })
        .workers(workers)
        .shutdown_timeout(shutdown);
        let internal = if internal_tls {
            let tls = crate::config::load_tls(
                &settings.listen.internal_tls_cert_file,
                &settings.listen.internal_tls_key_file,
            )?;
            server.listen_rustls_0_23(internal_listener, tls)?.run()
        } else {
            server.listen(internal_listener)?.run()
        };

        let (public, public_addr) = match settings.public_addr()? {
            None => (None, None),
            Some(addr) => {
                let listener = bind(&addr, "listen.public")?;
                let bound = listener.local_addr()?;
                let public_tls = !settings.listen.public_tls_cert_file.is_empty();
                let public_data = data.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(public_data.clone())
                        .app_data(web::PayloadConfig::new(256 * 1024))
                        .wrap(security_headers(public_tls))
                        .wrap(from_fn(request_log))
                        .wrap(from_fn(crate::web::metrics::http_metrics))
                        .configure(crate::web::public_routes)
                        .default_service(web::to(not_found))
                })
                .workers(workers.min(2))
                .shutdown_timeout(shutdown);
                let running = if public_tls {
                    let tls = crate::config::load_tls(
                        &settings.listen.public_tls_cert_file,
                        &settings.listen.public_tls_key_file,
                    )?;
                    server.listen_rustls_0_23(listener, tls)?.run()
                } else {
                    server.listen(listener)?.run()
                };
                (Some(running), Some(bound))
            }
        };

        let runner = crate::jobs::outbox::OutboxRunner::new(
            state.pool.clone(),
            vec![
                Arc::new(crate::jobs::deliver::chat_notification::ChatNotifier::new(
                    state.clone(),
                )),
                Arc::new(crate::jobs::deliver::bot_welcome::WelcomeSender::new(
                    state.clone(),
                )),
                Arc::new(crate::jobs::deliver::bot_message::BotMessageSender::new(
                    state.clone(),
                )),
                Arc::new(
                    crate::jobs::deliver::personal_notification::PersonalNotifier::new(
                        state.clone(),
                    ),
                ),
                Arc::new(crate::jobs::fanout::EventFanout::new(state.clone())),
                Arc::new(crate::jobs::deliver::link_lapsed::LapseNotifier::new(
                    state.clone(),
                )),
                Arc::new(
                    crate::jobs::deliver::link_lapsed_channel::LapseChannelNotifier::new(
                        state.clone(),
                    ),
                ),
                Arc::new(
                    crate::jobs::deliver::jira_remote_link::RemoteLinkWriter::new(state.clone()),
                ),
                Arc::new(
                    crate::jobs::deliver::jira_remote_link_delete::RemoteLinkRemover::new(
                        state.clone(),
                    ),
                ),
                Arc::new(
                    crate::jobs::deliver::jira_remote_link_comment::RemoteLinkCommenter::new(
                        state.clone(),
                    ),
                ),
                Arc::new(
                    crate::jobs::deliver::jira_remote_link_resync::RemoteLinkResync::new(
                        state.clone(),
                    ),
                ),
            ],
            crate::jobs::outbox::RunnerConfig {
                lease: std::time::Duration::from_secs(settings.outbox.lease_secs),
                max_attempts: settings.outbox.max_attempts,
                backoff_base: std::time::Duration::from_millis(settings.outbox.backoff_base_ms),
                ..Default::default()
            },
        )
        .with_wake(state.outbox_wake.clone())
        .with_metrics(state.metrics.clone());
        actix_web::rt::spawn(runner.run_forever());
        actix_web::rt::spawn(crate::jobs::activity::flush_forever(state.clone()));
        actix_web::rt::spawn(crate::jobs::retention::run_forever(
            state.pool.clone(),
            settings.retention.clone(),
            settings.jira.user_session_idle_mins,
        ));
        tracing::info!(listen.internal = %internal_addr, listen.public = ?public_addr, "listening");
        Ok(Application {
            internal_addr,
            public_addr,
            internal,
            public,
            setup_url,
            state,
        })
    }

    /// The bound internal address (the real port when 0 was asked for).
    pub fn internal_addr(&self) -> SocketAddr {
        self.internal_addr
    }

    /// The bound public address, when configured.
    pub fn public_addr(&self) -> Option<SocketAddr> {
        self.public_addr
    }

    /// The one-time setup URL while setup is pending.
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    /// Shared state (tests reach the pool and vault through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Handles to stop the servers gracefully.
    pub fn handles(&self) -> Vec<ServerHandle> {
        let mut v = vec![self.internal.handle()];
        if let Some(p) = &self.public {
            v.push(p.handle());
        }
        v
    }

    /// Serves until a stop signal; in-flight requests finish within `listen.shutdown_timeout_secs`.
    /// Under systemd (`Type=notify`) it reports READY, pings the watchdog and reports STOPPING.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let public = self.public.map(actix_web::rt::spawn);
        sd_notify("READY=1\nSTATUS=serving");
        if let Some(every) = watchdog_interval() {
            actix_web::rt::spawn(async move {
                loop {
                    actix_web::rt::time::sleep(every).await;
                    sd_notify("WATCHDOG=1");
                }
            });
        }
        let result = self.internal.await;
        sd_notify("STOPPING=1");
        crate::services::activity::flush(&self.state).await;
        if let Some(p) = public {
            p.await.map_err(std::io::Error::other)??;
        }
        tracing::info!("stopped");
        result
    }
}

/// Sends a state line to systemd's notification socket when `NOTIFY_SOCKET` is set (path or
/// abstract `@name`); does nothing otherwise. Errors are logged, never fatal.
pub fn sd_notify(state: &str) {
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let send = || -> std::io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        if let Some(name) = target.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            let addr = UnixAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
        } else {
            sock.send_to(state.as_bytes(), &target)?;
        }
        Ok(())
    };
    if let Err(e) = send() {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Half the watchdog period systemd asked for (`WATCHDOG_USEC`), when it applies to this process.
fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| std::time::Duration::from_micros(usec / 2))
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("This page"))
}

fn bind(addr: &SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} ({key})"))
}

/// Unspecified addresses (0.0.0.0) are shown as localhost in generated URLs.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// Creates the state dir (0700) and checks that it is writable.
fn prepare_state_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| {
                format!(
                    "cannot create the state dir {} (paths.state_dir)",
                    dir.display()
                )
            })?;
    }
    let probe = dir.join(".write-probe");
    let written = std::fs::write(&probe, b"ok");
    // a full disk may leave an empty probe behind: never leave litter in the state dir
    let _ = std::fs::remove_file(&probe);
    written.with_context(|| {
        format!(
            "the state dir {} is not writable (paths.state_dir)",
            dir.display()
        )
    })
}
