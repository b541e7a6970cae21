//! The app under test: a real server on port 0 with its own database and state dir, and a
//! cookie-keeping HTTP client that behaves like a browser.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use jira_teams_bridge::config::Settings;
use jira_teams_bridge::startup::Application;
use jira_teams_bridge::state::AppState;
use reqwest::cookie::CookieStore;
use secrecy::SecretString;

use super::db::TestDb;

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

/// Makes the app's database refuse connections and ends the ones it has (an outage).
pub fn cut_off_database(app: &TestApp) {
    app.db.cut_off();
}
