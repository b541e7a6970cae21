//! Fault: the state dir on a read-only file system, or on a full one, at start. `serve` and
//! `setup-url` (both write there; `migrate` does not) exit non-zero with one clear line naming
//! the path and the cause, never a panic or a backtrace. The file systems are real tmpfs mounts
//! made in a private mount namespace (`unshare -m`), so nothing leaks to the host and chmod's
//! "root ignores it" does not spoil the test.

use std::process::Command;

use crate::support::app::TempDir;
use crate::support::db::TestDb;
use crate::support::fault::summary;

/// What a fault does to the mount point before the command runs.
#[derive(Clone, Copy)]
enum Fs {
    ReadOnly,
    Full,
}

/// Runs `jira-teams-bridge <args>` with its state dir `<mnt>/<sub>` on a fresh tmpfs at `mnt`
/// mounted the `fs` way, inside a mount namespace of its own; (exit code, stderr).
fn run_on(fs: Fs, mnt: &std::path::Path, sub: &str, db: &TestDb, args: &[&str]) -> (i32, String) {
    let prepare = match fs {
        Fs::ReadOnly => "mount -t tmpfs -o size=64k,ro tmpfs \"$MNT\"",
        // fill every block; what is left cannot take a file's content
        Fs::Full => {
            "mount -t tmpfs -o size=64k tmpfs \"$MNT\" && \
             { dd if=/dev/zero of=\"$MNT/fill\" bs=4k 2>/dev/null; [ -s \"$MNT/fill\" ]; }"
        }
    };
    let empty = mnt.with_extension("toml");
    std::fs::write(&empty, "").unwrap();
    let state_dir = mnt.join(sub);
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("{prepare} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_jira-teams-bridge"))
        .arg("--config")
        .arg(&empty)
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("JTB__") {
            cmd.env_remove(k);
        }
    }
    cmd.env("MNT", mnt)
        .env("RUST_BACKTRACE", "1")
        .env("JTB__DATABASE__URL", &db.url)
        .env("JTB__PATHS__STATE_DIR", &state_dir)
        .env("JTB__LISTEN__INTERNAL", "127.0.0.1:0");
    let out = cmd
        .output()
        .expect("unshare runs (util-linux; the suite runs as root)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("unshare: ") && !stderr.contains("mount: "),
        "could not make the private mount (root needed): {stderr}"
    );
    (out.status.code().unwrap_or(-1), stderr)
}

/// The command failed the way an operator can act on: non-zero, one `error:` line naming the
/// path and the cause, no panic, no backtrace.
fn assert_clear_failure(what: &str, (code, stderr): &(i32, String), path: &str, cause: &str) {
    assert!(*code != 0 && *code != -1, "{what}: exit {code}\n{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{what}: {stderr}"
    );
    // the log (stdout) may say more; what the operator sees on stderr is one line
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: "),
        "{what}: one error line on stderr\n{stderr}"
    );
    assert!(
        lines[0].contains(path) && lines[0].contains(cause),
        "{what}: the error names {path} and `{cause}`: {}",
        lines[0]
    );
}

#[test]
fn a_read_only_or_full_state_dir_stops_serve_and_setup_url_with_one_clear_line() {
    let db = TestDb::migrated();
    let dir = TempDir::new();
    let mnt = dir.0.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let m = mnt.display().to_string();
    let mut checked = 0;
    for (fs, cause) in [
        (Fs::ReadOnly, "Read-only file system"),
        (Fs::Full, "No space left on device"),
    ] {
        // the state dir is the mount itself, then a directory still to be made on it
        for sub in ["", "state"] {
            let path = if sub.is_empty() {
                m.clone()
            } else {
                format!("{m}/{sub}")
            };
            let serve = run_on(fs, &mnt, sub, &db, &["serve"]);
            assert_clear_failure("serve", &serve, &path, cause);
            let setup = run_on(fs, &mnt, sub, &db, &["setup-url"]);
            assert_clear_failure("setup-url", &setup, &path, cause);
            checked += 2;
        }
    }
    // migrate keeps nothing in the state dir: a broken one does not stop it
    let (code, stderr) = run_on(Fs::ReadOnly, &mnt, "", &db, &["migrate"]);
    assert_eq!(code, 0, "{stderr}");
    summary(
        "read-only / full state dir at start",
        0,
        0,
        0,
        0,
        &format!("n/a: {checked} starts refused, each with one error line"),
    );
}
