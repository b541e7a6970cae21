//! Logging: structured key=value lines (or JSON) on stdout, fit for journald (no ANSI colours and
//! no timestamps when the journal adds its own). Never log secrets, tokens or message bodies.

pub mod metrics;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a tracing filter; `RUST_LOG` wins when set.
pub fn init(level: &str, format: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")));
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let ansi = !under_journal && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_target(false);
    let result = match (format, under_journal) {
        ("json", _) => builder.json().flatten_event(true).try_init(),
        (_, true) => builder.without_time().try_init(),
        (_, false) => builder.try_init(),
    };
    // A subscriber may already be installed (tests); that is fine.
    let _ = result;
}
