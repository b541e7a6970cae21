//! The command line: `serve`, `migrate`, `setup-url`, `rotate-key`, `check-config`, and the
//! data lifecycle: `export`, `erase`, `prune`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel::Connection;
use diesel::pg::PgConnection;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::crypto::{Keyring, Vault};
use crate::db;
use crate::db::models::audit::Actor;
use crate::db::models::lifecycle::{self, EraseReport, LifecycleError, Subject};
use crate::db::models::retention;
use crate::db::models::secret;
use crate::db::models::setup_token;

/// jira-teams-bridge: connects Jira Data Center to Microsoft Teams.
#[derive(Debug, Parser)]
#[command(name = "jira-teams-bridge", version, about)]
pub struct Cli {
    /// Config file (default /etc/jira-teams-bridge/config.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (applies migrations first unless database.run_migrations = false).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the one-time setup URL, or say that setup is done.
    SetupUrl,
    /// Add a new master key version and re-encrypt every secret with it, in one transaction.
    RotateKey {
        /// Afterwards remove old key versions from the keyring (saved to a side file) once no
        /// secret uses them.
        #[arg(long)]
        retire_old: bool,
    },
    /// Validate the configuration and print a summary (no secrets).
    CheckConfig,
    /// Check database, key, clock, Jira instances, Microsoft and the bot URL; say what to fix.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print everything stored about one user or one Jira instance as JSON (secrets redacted).
    /// Exit 0 ok, 1 not found, 2 bad argument.
    Export(Target),
    /// Erase everything stored about one user (one transaction) or one Jira instance (disabled
    /// first, its deliveries in batches, the rest in one transaction), leaving
    /// an audit tombstone. Without --yes, prints what would be erased and exits 2.
    Erase {
        #[command(flatten)]
        target: Target,
        /// Really erase.
        #[arg(long)]
        yes: bool,
    },
    /// Delete delivered/dead deliveries and audit rows older than `[retention]` allows.
    Prune,
}

/// Whose data (`export`, `erase`).
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A linked user: <public_id>:<jira_user_key>, e.g. tHXLY2:JIRAUSER10100.
    #[arg(long, value_name = "PUBLIC_ID:JIRA_USER_KEY")]
    pub user: Option<String>,
    /// A Jira instance by public ID.
    #[arg(long, value_name = "PUBLIC_ID")]
    pub instance: Option<String>,
}

/// A command's failure with its own exit code (1 not found, 2 bad argument).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitStatus {
    pub code: u8,
    pub message: String,
}

fn connect(settings: &Settings) -> anyhow::Result<PgConnection> {
    let url = settings.database_url()?;
    PgConnection::establish(url.expose_secret())
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL (database.url): {e}"))
}

/// Runs a non-serving command.
pub fn run(command: Command, settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Serve | Command::Doctor { .. } => anyhow::bail!("handled by main"),
        Command::CheckConfig => check_config(settings, out),
        Command::Migrate => {
            let mut conn = connect(settings)?;
            let n = db::migrate_reporting(&mut conn, |name| {
                let _ = writeln!(std::io::stderr(), "applying migration {name}");
            })?;
            writeln!(
                out,
                "applied {n} migration(s); schema version {}",
                db::schema_version(&mut conn)?.unwrap_or_default()
            )?;
            Ok(())
        }
        Command::SetupUrl => {
            let mut conn = connect(settings)?;
            if db::pending_migrations(&mut conn)? > 0 {
                anyhow::bail!(
                    "the database is not migrated yet; run `jira-teams-bridge migrate` or start the service first"
                );
            }
            let base = settings.internal_base_url(settings.internal_addr()?);
            match setup_token::ensure_setup_token(&mut conn, &settings.paths.state_dir)? {
                Some((token, _)) => writeln!(out, "{base}/setup?token={token}")?,
                None => writeln!(out, "Setup is complete; sign in at {base}/login")?,
            }
            Ok(())
        }
        Command::RotateKey { retire_old } => rotate_key(settings, retire_old, out),
        Command::Export(target) => export(settings, &target, out),
        Command::Erase { target, yes } => erase(settings, &target, yes, out),
        Command::Prune => prune(settings, out),
    }
}

fn check_config(settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "configuration OK")?;
    writeln!(out, "listen.internal = {}", settings.listen.internal)?;
    writeln!(
        out,
        "listen.public = {}",
        if settings.listen.public.is_empty() {
            "(none)"
        } else {
            &settings.listen.public
        }
    )?;
    writeln!(
        out,
        "paths.state_dir = {}",
        settings.paths.state_dir.display()
    )?;
    writeln!(out, "master key = {}", settings.master_key_path().display())?;
    writeln!(out, "microsoft.cloud = {}", settings.microsoft.cloud)?;
    Ok(())
}

/// The advisory lock that serialises key rotations (held for the CLI's session).
const ROTATION_LOCK: i64 = 7_164_033;

/// Adds a key version and re-encrypts every secret under it in one transaction. Old versions
/// stay in the keyring (decrypt-only: older backups and daemons that have not reloaded yet need
/// them) until `retire_old` removes them, which happens only when no ciphertext uses them.
fn rotate_key(settings: &Settings, retire_old: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = settings.master_key_path();
    if std::env::var_os("CREDENTIALS_DIRECTORY").is_some_and(|d| path.starts_with(d)) {
        anyhow::bail!(
            "the master key is a read-only systemd credential; set paths.master_key_file to its source file and run rotate-key again"
        );
    }
    let mut conn = connect(settings)?;
    if db::pending_migrations(&mut conn)? > 0 {
        anyhow::bail!("the database is not migrated; run `jira-teams-bridge migrate` first");
    }
    // one rotation at a time across every host on this database: two at once would both add
    // "the next version" to the key file and one of the new keys would be lost
    if !db::try_advisory_lock(&mut conn, ROTATION_LOCK)? {
        writeln!(out, "waiting for another key rotation to finish…")?;
        db::advisory_lock(&mut conn, ROTATION_LOCK)?;
    }
    let mut ring = Keyring::load(&path)?;
    let new_version = ring.add_version();
    ring.write_replace(&path)
        .context("cannot write the new key version")?;
    writeln!(
        out,
        "added key version v{new_version} to {}",
        path.display()
    )?;
    let vault = Vault::from_keyring(ring.clone());
    let actor = Actor::Cli("rotate-key".into());
    let mut audits = Vec::new();
    let result = conn.transaction(|conn| {
        // progress goes to stderr (stdout keeps the result): about every 5 %, and the last one
        let total = secret::count_all(conn)?;
        let step = (total / 20).max(1);
        let mut done = 0;
        let report = secret::reencrypt_all(conn, &vault, &mut audits, |col, _, _| {
            done += 1;
            if done % step == 0 || done == total {
                let _ = writeln!(
                    std::io::stderr(),
                    "re-encrypting: {done} of {total} secrets ({col})"
                );
            }
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        secret::write_audits(conn, &actor, "key rotation", &audits)?;
        Ok::<_, anyhow::Error>(report)
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            // the decryptions happened even though the rotation rolled back: audit them
            if let Err(audit_err) =
                secret::write_audits(&mut conn, &actor, "key rotation (rolled back)", &audits)
            {
                writeln!(
                    out,
                    "warning: could not write the audit rows of the failed rotation: {audit_err}"
                )?;
            }
            return Err(e.context(
                "rotation rolled back; every secret still uses its old key (the new key version stays in the keyring, unused)",
            ));
        }
    };
    writeln!(
        out,
        "re-encrypted {} secret(s) under key v{new_version}",
        report.reencrypted
    )?;
    for (col, n) in &report.per_column {
        writeln!(out, "  {col}: {n}")?;
    }
    if retire_old {
        retire_old_keys(&mut conn, &ring, new_version, &path, out)?;
    } else {
        writeln!(
            out,
            "old key versions stay in the keyring for decryption; `rotate-key --retire-old` removes them once unused"
        )?;
    }
    writeln!(
        out,
        "running daemons pick up the new key on their next secret read or write; under systemd credentials restart the service"
    )?;
    Ok(())
}

/// Moves key versions other than `keep` to a side file, after checking under a table lock that
/// no ciphertext still uses them.
fn retire_old_keys(
    conn: &mut PgConnection,
    ring: &Keyring,
    keep: u32,
    path: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (kept, retired) = ring.split_off_all_but(keep);
    if retired.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        secret::lock_secret_tables(conn)?;
        let in_use = secret::versions_in_use(conn)?;
        if in_use.iter().any(|v| *v != keep) {
            anyhow::bail!("secrets written during the rotation still use key versions {in_use:?}; run rotate-key --retire-old again");
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("master-key");
        let side = path.with_file_name(format!("{name}.retired-{stamp}"));
        retired.write_replace(&side).context("cannot save the retired keys")?;
        kept.write_replace(path).context("cannot write the keyring")?;
        writeln!(out, "retired key version(s) {:?} to {} — keep it with backups taken before now, or delete it", retired.versions(), side.display())?;
        Ok(())
    })
}

fn subject(target: &Target) -> anyhow::Result<Subject> {
    let parsed = match (&target.user, &target.instance) {
        (Some(u), None) => Subject::parse_user(u),
        (None, Some(i)) if !i.trim().is_empty() => Ok(Subject::Instance {
            public_id: i.trim().to_owned(),
        }),
        _ => Err(LifecycleError::BadArgument(
            "give exactly one of --user <public_id>:<jira_user_key> or --instance <public_id>"
                .into(),
        )),
    };
    parsed.map_err(lifecycle_exit)
}

fn lifecycle_exit(e: LifecycleError) -> anyhow::Error {
    match e {
        LifecycleError::NotFound(m) => ExitStatus {
            code: 1,
            message: m,
        }
        .into(),
        LifecycleError::BadArgument(m) => ExitStatus {
            code: 2,
            message: m,
        }
        .into(),
        LifecycleError::Busy(m) => anyhow::anyhow!(m),
        e @ LifecycleError::Write(_) => anyhow::anyhow!(e),
        LifecycleError::Db(e) => anyhow::anyhow!("database error: {e}"),
    }
}

fn migrated(settings: &Settings) -> anyhow::Result<PgConnection> {
    let mut conn = connect(settings)?;
    if db::pending_migrations(&mut conn)? > 0 {
        anyhow::bail!("the database is not migrated; run `jira-teams-bridge migrate` first");
    }
    Ok(conn)
}

fn export(settings: &Settings, target: &Target, out: &mut dyn Write) -> anyhow::Result<()> {
    let subject = subject(target)?;
    let mut conn = migrated(settings)?;
    // written as read, table by table; the counts go to stderr as each table is done
    lifecycle::export_to(
        &mut conn,
        &subject,
        lifecycle::Concurrency::Any,
        out,
        |table, n| {
            if n > 0 {
                let _ = writeln!(std::io::stderr(), "  {table}: {n} row(s)");
            }
        },
    )
    .map_err(lifecycle_exit)?;
    out.flush()?;
    Ok(())
}

fn print_report(out: &mut dyn Write, report: &EraseReport) -> std::io::Result<()> {
    for (table, n) in &report.deleted {
        if *n > 0 {
            writeln!(out, "  {table}: {n} row(s)")?;
        }
    }
    for (table, n) in &report.pseudonymised {
        if *n > 0 {
            writeln!(out, "  {table}: {n} row(s) kept, the user's name cleared")?;
        }
    }
    writeln!(
        out,
        "  kept: {} audit row(s) naming them (append-only; removed after retention.audit_days)",
        report.audit_kept
    )?;
    if report.kept_shared_ms_users > 0 {
        writeln!(
            out,
            "  kept: Teams settings of {} Microsoft user(s) still linked in another instance",
            report.kept_shared_ms_users
        )?;
    }
    Ok(())
}

fn erase(
    settings: &Settings,
    target: &Target,
    yes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let subject = subject(target)?;
    let mut conn = migrated(settings)?;
    if !yes {
        let report = lifecycle::erase_preview(&mut conn, &subject).map_err(lifecycle_exit)?;
        writeln!(out, "would erase, for {}:", subject.label())?;
        print_report(out, &report)?;
        return Err(ExitStatus {
            code: 2,
            message: "nothing erased: run again with --yes to erase".into(),
        }
        .into());
    }
    let who = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    let actor = Actor::Cli(format!("erase (by {who})"));
    let purpose = match subject {
        Subject::User { .. } => "erase user",
        Subject::Instance { .. } => "erase instance",
    };
    let report = lifecycle::erase(&mut conn, &subject, &actor, purpose, |table, n| {
        let _ = writeln!(std::io::stderr(), "  {table}: {n} row(s)");
    })
    .map_err(lifecycle_exit)?;
    writeln!(
        out,
        "erased {} row(s) for {}{}; tombstone written to the audit log:",
        report.total(),
        subject.label(),
        match subject {
            Subject::User { .. } => " in one transaction",
            Subject::Instance { .. } => " (its deliveries in batches, the rest in one transaction)",
        }
    )?;
    print_report(out, &report)?;
    Ok(())
}

fn prune(settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut conn = migrated(settings)?;
    let r = settings.retention.clone();
    let idle = settings.jira.user_session_idle_mins;
    let report = retention::prune(&mut conn, r.outbox_done_days, r.audit_days, idle, |t, n| {
        if n > 0 {
            let _ = writeln!(std::io::stderr(), "  {t}: {n} row(s) so far");
        }
    })?;
    match report {
        None => writeln!(out, "another daemon is pruning right now; nothing done")?,
        Some(p) => writeln!(
            out,
            "deleted {} finished deliveries older than {} day(s) and {} audit row(s) older than {} day(s); {} ended Jira user session(s)",
            p.outbox, r.outbox_done_days, p.audit, r.audit_days, p.sessions
        )?,
    }
    Ok(())
}

/// The system user the packages create and the unit runs as.
pub const SERVICE_USER: &str = "jira-teams-bridge";

/// `sudo jira-teams-bridge setup-url` (or `migrate`, `doctor`, `rotate-key`, …) on a packaged
/// install: run as root with the packaged config, the command re-runs itself as the service
/// user through `runuser` (which also drops root's groups), so that PostgreSQL's peer
/// authentication maps it to the service's role and files it writes (the setup token, the key)
/// belong to the service. Returns the child's exit code when it re-ran; `None` to go on here.
pub fn rerun_as_service_user(cli: &Cli) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    if matches!(cli.command, Command::Serve) || cli.config.is_some() {
        return None;
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let user_exists = std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(SERVICE_USER)));
    if !root || !user_exists || !std::path::Path::new("/etc/jira-teams-bridge/config.toml").exists()
    {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let status = std::process::Command::new("runuser")
        .args(["-u", SERVICE_USER, "--"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .status()
        .ok()?;
    Some(status.code().unwrap_or(1))
}
