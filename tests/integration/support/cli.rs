//! Running the real binary's command line against a test's database: `run_cli` (also in a
//! terminal, as from a shell), the environment pointing at the test, config-error checks and
//! the `doctor` report.

use serde_json::Value;

use super::app::{TempDir, TestApp};

/// The CLI with `args` and `env` (JTB__ variables) as a command to run or spawn; the temporary
/// directory holding its empty config file must outlive the run.
pub fn cli_command(args: &[&str], env: &[(&str, String)]) -> (std::process::Command, TempDir) {
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
    (cmd, empty)
}

/// Runs the CLI with `env` (JTB__ variables) and returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let (mut cmd, _config) = cli_command(args, env);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What [`run_cli_in_terminal`] saw: the exit code (`None`: still running at the deadline,
/// then killed) and everything the terminal showed (stdout, stderr and any prompt).
pub struct TerminalRun {
    pub code: Option<i32>,
    pub screen: String,
}

/// Runs the CLI as from an interactive shell: under util-linux `script`, so it has a
/// controlling terminal (`/dev/tty`) on which a library could prompt, and with a keyboard that
/// never types (stdin held open, nothing written). Killed after `timeout`. `None` when
/// `script` is not installed.
pub fn run_cli_in_terminal(
    args: &[&str],
    env: &[(&str, String)],
    timeout: std::time::Duration,
) -> Option<TerminalRun> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let empty = TempDir::new();
    let file = empty.0.join("empty.toml");
    std::fs::write(&file, "").unwrap();
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(env!("CARGO_BIN_EXE_jira-teams-bridge"));
    if !args.contains(&"--config") {
        line.push_str(&format!(" --config {}", quote(file.to_str().unwrap())));
    }
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("JTB__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("RUST_LOG", "warn");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = std::time::Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            // the pty closes with `script`: the hung-up CLI gets SIGHUP
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(child.stdin.take());
    let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    Some(TerminalRun { code, screen })
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

/// The CLI exits 2 with one stderr line naming `key`.
pub fn assert_config_error(args: &[&str], env: &[(&str, String)], key: &str) {
    let (code, stdout, stderr) = run_cli(args, env);
    assert_eq!(code, 2, "exit code for {key}; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(lines[0].contains(key), "line names `{key}`: {}", lines[0]);
    assert!(stdout.is_empty());
}

/// `doctor --json` for `app` with `extra` env: (exit code, report, stderr).
pub async fn doctor(app: &TestApp, extra: Vec<(&'static str, String)>) -> (i32, Value, String) {
    let mut env = cli_env(app);
    env.extend(extra);
    // the doubles live on this test's runtime: run the CLI off it
    let (code, stdout, stderr) =
        actix_web::rt::task::spawn_blocking(move || run_cli(&["doctor", "--json"], &env))
            .await
            .unwrap();
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("json expected: {stdout} {stderr}"));
    (code, report, stderr)
}

/// The doctor report's check called `name`.
pub fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}
