//! Test harness: a real PostgreSQL database per test (cloned from a migrated template), the app
//! on port 0, and a cookie-keeping HTTP client that behaves like a browser.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use jira_teams_bridge::config::Settings;
use jira_teams_bridge::startup::Application;
use jira_teams_bridge::state::AppState;
use reqwest::cookie::CookieStore;
use secrecy::SecretString;

/// Where the harness creates and drops databases.
pub fn admin_database_url() -> String {
    std::env::var("JTB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgresql:///postgres?host=/var/run/postgresql".into())
}

/// The URL of database `name` on the same server as the admin URL.
pub fn database_url(name: &str) -> String {
    let admin = admin_database_url();
    let parsed = url::Url::parse(&admin).expect("JTB_TEST_DATABASE_URL is a URL");
    let mut u = parsed.clone();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

fn admin_conn() -> PgConnection {
    PgConnection::establish(&admin_database_url())
        .expect("connect to the test PostgreSQL (set JTB_TEST_DATABASE_URL)")
}

fn migrations_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut all = Vec::new();
    for e in entries {
        for f in ["up.sql", "down.sql"] {
            all.extend_from_slice(e.file_name().unwrap().as_encoded_bytes());
            all.extend_from_slice(&std::fs::read(e.join(f)).unwrap_or_default());
        }
    }
    hex::encode(&openssl::sha::sha256(&all)[..6])
}

static TEMPLATE: OnceLock<String> = OnceLock::new();
static CREATE_LOCK: Mutex<()> = Mutex::new(());

/// The migrated template database (created once per migration set, shared by test processes).
fn template() -> &'static str {
    TEMPLATE.get_or_init(|| {
        let name = format!("jtb_template_{}", migrations_fingerprint());
        let mut conn = admin_conn();
        diesel::sql_query("SELECT pg_advisory_lock(7164099)")
            .execute(&mut conn)
            .unwrap();
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let exists: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result(&mut conn)
        .unwrap();
        if exists.n == 0 {
            diesel::sql_query(format!("CREATE DATABASE {name}_building"))
                .execute(&mut conn)
                .unwrap();
            {
                let mut t =
                    PgConnection::establish(&database_url(&format!("{name}_building"))).unwrap();
                jira_teams_bridge::db::migrate(&mut t).unwrap();
            }
            diesel::sql_query(format!("ALTER DATABASE {name}_building RENAME TO {name}"))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(7164099)")
            .execute(&mut conn)
            .unwrap();
        name
    })
}

/// A database of its own for one test; dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A migrated database cloned from the template.
    pub fn migrated() -> TestDb {
        Self::create(Some(template()))
    }

    /// An empty database (no migrations).
    pub fn empty() -> TestDb {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> TestDb {
        let name = format!("jtb_test_{}", uuid::Uuid::new_v4().simple());
        let _guard = CREATE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = admin_conn();
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        let mut tries = 0;
        loop {
            match diesel::sql_query(&sql).execute(&mut conn) {
                Ok(_) => break,
                // another process may be cloning the same template this instant
                Err(e) if tries < 50 && e.to_string().contains("being accessed") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        let url = database_url(&name);
        TestDb { name, url }
    }

    /// A connection to this database.
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut conn = admin_conn();
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn);
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("jtb-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings for a test: its database, its state dir, port 0, one worker, quiet logs.
pub fn test_settings(db: &TestDb, state_dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.database.url = SecretString::from(db.url.clone());
    s.database.pool_max_size = 4;
    s.paths.state_dir = state_dir.to_owned();
    s.listen.internal = "127.0.0.1:0".into();
    s.listen.workers = 1;
    s.listen.shutdown_timeout_secs = 1;
    s.log.level = "warn".into();
    s
}

/// A running appliance with a browser-like client.
pub struct TestApp {
    pub base: String,
    pub public_base: Option<String>,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub setup_url: Option<String>,
    pub state: AppState,
    // dropped last: the database outlives the server that uses it
    pub state_dir: TempDir,
    pub db: TestDb,
}

/// Starts the appliance on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the appliance after `tweak` adjusted its settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let db = TestDb::migrated();
    let state_dir = TempDir::new();
    let mut settings = test_settings(&db, &state_dir.0);
    tweak(&mut settings);
    settings.validate().expect("test settings are valid");
    start(settings, db, state_dir).await
}

/// Starts an app on an existing database and state dir.
pub async fn start(settings: Settings, db: TestDb, state_dir: TempDir) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let scheme = if settings.listen.internal_tls_cert_file.is_empty() {
        "http"
    } else {
        "https"
    };
    let base = format!("{scheme}://{}", app.internal_addr());
    let public_base = app.public_addr().map(|a| format!("http://{a}"));
    let setup_url = app
        .setup_url()
        .map(|u| u.replace(&app.state().internal_url, &base));
    let state = app.state().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        base,
        public_base,
        client,
        jar,
        setup_url,
        state,
        state_dir,
        db,
    }
}

fn init_logging() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            jira_teams_bridge::telemetry::init("debug", "text");
        }
    });
}

/// Password used by the harness's admin.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET following no redirects.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The browser's CSRF cookie value (fetching a page first when there is none).
    pub async fn csrf(&self) -> String {
        // `__Host-` prefixed when the internal URL is https (secure cookies)
        let find = || {
            self.cookie("jtb_csrf")
                .or_else(|| self.cookie("__Host-jtb_csrf"))
        };
        if let Some(v) = find() {
            return v;
        }
        self.get("/login").await;
        find().expect("csrf cookie set")
    }

    /// A cookie's value from the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: reqwest::Url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().ok()?.to_owned();
        header
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// POSTs a form with the CSRF token added and the Origin header a browser sends.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.client
            .post(self.url(path))
            .header("Origin", self.base.clone())
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The token from the setup URL.
    pub fn setup_token(&self) -> String {
        self.setup_url
            .as_ref()
            .expect("setup pending")
            .split("token=")
            .nth(1)
            .unwrap()
            .to_owned()
    }

    /// Completes first-run setup as `admin` and leaves the client signed in.
    pub async fn complete_setup(&self) {
        let token = self.setup_token();
        let res = self.get(&format!("/setup?token={token}")).await;
        assert_eq!(res.status(), 200);
        let res = self
            .post_form(
                "/setup",
                &[
                    ("token", &token),
                    ("username", "admin"),
                    ("password", ADMIN_PASSWORD),
                    ("password_confirm", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "setup should redirect");
        assert_eq!(location(&res), "/admin/instances?notice=welcome");
    }

    /// Registers a Jira instance; returns (public id, full shared secret).
    pub async fn register_instance(&self, url: &str) -> (String, String) {
        let res = self
            .post_form("/admin/instances", &[("base_url", url)])
            .await;
        assert_eq!(res.status(), 201, "registering {url}");
        let html = res.text().await.unwrap();
        (
            between(&html, "<code id=\"public-id\">", "</code>"),
            between(
                &html,
                "<code id=\"shared-secret\" class=\"secret\">",
                "</code>",
            ),
        )
    }
}

/// The Location header of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The text between two markers.
pub fn between(html: &str, start: &str, end: &str) -> String {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not in page"))
        + start.len();
    let to = html[from..].find(end).unwrap() + from;
    html[from..to].to_owned()
}

/// Runs the CLI with `env` (JTB__ variables) and returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jira-teams-bridge"));
    // never read the host's /etc/jira-teams-bridge/config.toml
    let empty = TempDir::new();
    if !args.contains(&"--config") {
        let file = empty.0.join("empty.toml");
        std::fs::write(&file, "").unwrap();
        cmd.arg("--config").arg(file);
    }
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("JTB__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("RUST_LOG", "warn");
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Env vars that point the CLI at a test's database and state dir.
pub fn cli_env(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("JTB__DATABASE__URL", app.db.url.clone()),
        (
            "JTB__PATHS__STATE_DIR",
            app.state_dir.0.display().to_string(),
        ),
        ("JTB__LISTEN__INTERNAL", "127.0.0.1:8080".into()),
    ]
}

/// Makes the app's database refuse connections and ends the ones it has (an outage).
pub fn cut_off_database(app: &TestApp) {
    let mut admin = admin_conn();
    diesel::sql_query(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        app.db.name
    ))
    .execute(&mut admin)
    .unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db.name
    ))
    .execute(&mut admin)
    .unwrap();
}
