//! Fuzz target `config`: a config file's text through `Settings::from_toml_str` (the same layering
//! and `deny_unknown_fields` deserialization as a file) and `Settings::validate`.
//!
//! Never panics. Files the config names are read by `validate` (TLS pair, certificate, token and
//! URL files): inputs naming a path under `/dev`, `/proc` or `/sys` are only deserialized, since
//! an endless device is the operator's choice, not a parsing bug. Checked besides that: a valid
//! config gives addresses that parse, and the durations the daemon builds from it (admin session
//! and lockout times subtracted from now at sign-in, the pool's checkout deadline) exist.
#![no_main]

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use jira_teams_bridge::config::Settings;
use libfuzzer_sys::fuzz_target;

fn check_durations(s: &Settings) {
    let now = Utc::now();
    let a = &s.admin;
    for delta in [
        TimeDelta::try_hours(a.session_absolute_hours),
        TimeDelta::try_minutes(a.session_idle_mins),
        TimeDelta::try_minutes(a.login_lockout_mins),
    ] {
        let delta = delta.expect("an admin duration chrono cannot hold");
        assert!(now.checked_sub_signed(delta).is_some() && now.checked_add_signed(delta).is_some());
    }
    let timeout = Duration::from_secs(s.database.connect_timeout_secs);
    assert!(
        Instant::now().checked_add(timeout).is_some(),
        "pool checkout deadline"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = Settings::from_toml_str(text, Vec::new()) else {
        return;
    };
    if ["/dev", "/proc", "/sys"].iter().any(|p| text.contains(p)) {
        return;
    }
    if settings.validate().is_ok() {
        assert!(settings.internal_addr().is_ok());
        assert!(settings.public_addr().is_ok());
        let _ = settings.internal_base_url(settings.internal_addr().expect("checked"));
        check_durations(&settings);
    }
});
