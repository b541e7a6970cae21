//! Real-browser tests of the admin UI: headless Chromium (Debian's `chromium` package) driven
//! over WebDriver by `fantoccini`, against the real server on port 0 and a real database.
//!
//! Each test starts its own chromedriver on a free port with its own fresh Chromium profile,
//! so browser tests run in parallel with each other and with the rest of the binary. Every step
//! leaves a PNG in `target/browser-screenshots/<test>/<NN-step>.png` (replaced on each run),
//! next to chromedriver's log, so a failure can be looked at rather than guessed at.
//!
//! The harness (start/stop, screenshots, reading the page, keys) is `support::browser`; the
//! flows are in the submodules. Assertions read what the page shows a person (`innerText`), not the
//! HTML source.

mod instances;
mod jira_cookie;
mod jira_walk;
mod keyboard;
mod no_javascript;
mod sign_in;
