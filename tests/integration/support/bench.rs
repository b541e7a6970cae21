//! Where benchmarks (`tests/bench/run.sh`) write their results and how long a run lasts:
//! `JTB_BENCH_DIR` (default `target/bench`) and `JTB_BENCH_SECS`.

use std::path::PathBuf;

use serde_json::Value;

/// Where results are written.
pub fn out_dir() -> PathBuf {
    let dir = std::env::var("JTB_BENCH_DIR").unwrap_or_else(|_| "target/bench".into());
    std::fs::create_dir_all(&dir).unwrap();
    PathBuf::from(dir)
}

/// Seconds of one measured run.
pub fn secs() -> u64 {
    std::env::var("JTB_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// Writes a benchmark's markdown rows and JSON.
pub fn write_results(name: &str, markdown: &str, json: &Value) {
    let dir = out_dir();
    std::fs::write(dir.join(format!("{name}.md")), markdown).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(json).unwrap(),
    )
    .unwrap();
    println!("{markdown}");
}
