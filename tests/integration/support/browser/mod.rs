//! A headless Chromium of a test's own (Debian's `chromium`), driven over WebDriver by
//! `fantoccini`: start/stop, a screenshot per step in `target/browser-screenshots/<test>/`,
//! reading the page as a person sees it, keys; and the admin flows browser tests share.

mod driver;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::app::{ADMIN_PASSWORD, TempDir, TestApp};
use driver::Chromedriver;

/// A headless Chromium of a test's own, closed (and its chromedriver stopped) on drop.
pub struct Browser {
    pub client: Client,
    shots: PathBuf,
    step: AtomicU32,
    // dropped after the client: chromedriver outlives the session, the profile outlives both
    driver: Chromedriver,
    _profile: TempDir,
}

/// Whether the browser runs the pages' JavaScript.
#[derive(Clone, Copy, PartialEq)]
pub enum Javascript {
    On,
    Off,
}

impl Browser {
    /// A browser for the test `test` (names its screenshot folder), JavaScript on.
    pub async fn start(test: &str) -> Browser {
        Self::start_with(test, Javascript::On).await
    }

    /// A browser for the test `test` that runs JavaScript or not.
    pub async fn start_with(test: &str, js: Javascript) -> Browser {
        let shots = screenshot_dir(test);
        let driver = Chromedriver::start(&shots.join("chromedriver.log"));
        let profile = TempDir::new();
        let mut options = json!({
            "binary": driver::chromium_launcher(&profile.0),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // without these Chromium keeps calling Google's servers, which this closed
                // network refuses (slow starts, noise in the logs)
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.0.join("profile").display()),
            ],
        });
        if js == Javascript::Off {
            // the setting an administrator's policy uses to block JavaScript on every site
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // fail fast instead of chromedriver's 300 s page-load default
            "timeouts": { "pageLoad": 10_000, "script": 5_000, "implicit": 0 },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium: {e} (see {})",
                    shots.join("chromedriver.log").display()
                )
            });
        Browser {
            client,
            shots,
            step: AtomicU32::new(0),
            driver,
            _profile: profile,
        }
    }

    /// Ends the WebDriver session (Chromium exits) and stops chromedriver.
    pub async fn quit(self) {
        let Browser { client, driver, .. } = self;
        let _ = client.close().await;
        drop(driver);
    }

    /// Opens `url` (absolute) and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Saves a screenshot of the viewport as `NN-step.png`.
    pub async fn shot(&self, step: &str) {
        let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{n:02}-{step}.png")), png).unwrap();
    }

    /// The text the page shows (the body's rendered text).
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Path and query of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The `<h1>` of the page shown.
    pub async fn heading(&self) -> String {
        self.client
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value a form field shows.
    pub async fn value(&self, css: &str) -> String {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Types `text` into the field `css` (clicking into it first, as a person would).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.click().await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the button or link `css` and waits for the page it leads to.
    pub async fn click(&self, css: &str) {
        let old = self.document().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_new_page(old, css).await;
    }

    /// Clicks `css` where that leads to no new page (a checkbox, a radio button).
    pub async fn click_only(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Presses and releases `key` wherever the focus is.
    pub async fn press(&self, key: Key) {
        self.keys(&[char::from(key)]).await;
    }

    /// Presses Enter (to submit a form or follow a link) and waits for the page it leads to.
    pub async fn press_enter(&self) {
        let old = self.document().await;
        self.press(Key::Enter).await;
        self.wait_for_new_page(old, "Enter").await;
    }

    async fn document(&self) -> Element {
        self.client.find(Locator::Css("html")).await.unwrap()
    }

    // chromedriver does not always wait for a navigation a click or key press starts; the old
    // page's root element going stale says the new page has replaced it
    async fn wait_for_new_page(&self, old: Element, after: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "no new page 10 s after {after}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` key by key wherever the focus is.
    pub async fn type_text(&self, text: &str) {
        self.keys(&text.chars().collect::<Vec<_>>()).await;
    }

    async fn keys(&self, keys: &[char]) {
        let mut seq = KeyActions::new("keyboard".into());
        for &k in keys {
            seq = seq
                .then(KeyAction::Down { value: k })
                .then(KeyAction::Up { value: k });
        }
        self.client.perform_actions(seq).await.unwrap();
    }

    /// What has the keyboard focus, as `tag#id` or `tag "label"` (links and buttons).
    pub async fn focused(&self) -> String {
        let el = self.client.active_element().await.unwrap();
        let tag = el.tag_name().await.unwrap().to_lowercase();
        match el.attr("id").await.unwrap() {
            Some(id) if !id.is_empty() => format!("{tag}#{id}"),
            _ => format!("{tag} \"{}\"", el.text().await.unwrap().trim()),
        }
    }

    /// Presses Tab until `target` (as [`Browser::focused`] names it) has the focus; returns the
    /// stops passed on the way. Fails after `max` presses.
    pub async fn tab_to(&self, target: &str, max: usize) -> Vec<String> {
        let mut passed = Vec::new();
        for _ in 0..max {
            self.press(Key::Tab).await;
            let now = self.focused().await;
            if now == target {
                return passed;
            }
            passed.push(now);
        }
        panic!("{target} not reached with {max} Tabs; focus went through {passed:?}");
    }
}

/// `target/browser-screenshots/<test>/`, emptied for this run.
fn screenshot_dir(test: &str) -> PathBuf {
    // the test binary is target/<profile>/deps/integration-<hash>: honours CARGO_TARGET_DIR
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("test binary under target/<profile>/deps");
    let dir = target.join("browser-screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fills in the first-run setup form (opened with the one-time link) and lands signed in on
/// the instances page with the welcome notice.
pub async fn complete_setup(browser: &Browser, app: &TestApp) {
    browser.goto(app.setup_url.as_deref().unwrap()).await;
    assert_eq!(browser.heading().await, "First-run setup");
    browser.fill("#username", "admin").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.fill("#password_confirm", ADMIN_PASSWORD).await;
    browser.click("form[action='/setup'] button").await;
    assert_eq!(browser.path().await, "/admin/instances?notice=welcome");
    assert!(
        browser
            .text()
            .await
            .contains("Setup is complete. Register your first Jira instance below.")
    );
}

/// Registers `url` on the instances page; returns the public ID and the secret shown once.
pub async fn register_instance(browser: &Browser, app: &TestApp, url: &str) -> (String, String) {
    browser.goto(&app.url("/admin/instances")).await;
    browser.fill("#base_url", url).await;
    browser
        .click("form[action='/admin/instances'] button")
        .await;
    assert_eq!(browser.heading().await, "Jira instance registered");
    shown_secret(browser).await
}

/// The public ID and shared secret on a secret page.
pub async fn shown_secret(browser: &Browser) -> (String, String) {
    let text_of = |id: &'static str| async move {
        browser
            .client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    (text_of("public-id").await, text_of("shared-secret").await)
}
