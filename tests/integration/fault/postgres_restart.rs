//! Fault: PostgreSQL restarts under load. A private cluster (initdb into a temp dir, its own
//! socket dir and port; the system cluster is never touched) serves the real daemon while Jira
//! sends webhooks without pause; the cluster is restarted (`pg_ctl restart -m fast`), then
//! stopped for five seconds and started. The daemon is not restarted: `/readyz` is 503 while the
//! database is down and 200 after, every webhook answered 2xx becomes a card, and every webhook
//! refused during the outage got a 5xx.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::support::app::TempDir;
use crate::support::daemon::Daemon;
use crate::support::daemon::free_port;
use crate::support::fault::{appliance, post_webhook, summary};
use crate::support::wait::holds_within;

const ISSUES: usize = 50;
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway PostgreSQL cluster, stopped and removed when dropped.
struct Cluster {
    dir: TempDir,
    port: u16,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Runs a PostgreSQL program as the `postgres` OS user (initdb refuses root).
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let path = format!("{BIN}/{program}");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn init() -> Cluster {
        let c = Cluster {
            dir: TempDir::new(),
            port: free_port(),
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&c.dir.0)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = c.data().display().to_string();
        c.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        c.pg_ctl(&["start"]);
        c
    }

    /// `pg_ctl <action>` on this cluster, waiting for it to finish.
    fn pg_ctl(&self, action: &[&str]) {
        let (data, log) = (
            self.data().display().to_string(),
            self.dir.0.join("pg.log").display().to_string(),
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses='' -c fsync=off",
            self.port,
            self.dir.0.display()
        );
        let mut args = vec!["-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "30"];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}&port={}",
            self.dir.0.display(),
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let path = format!("{BIN}/pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// One answer the daemon gave: when the request was sent, and its status (0: no answer).
type Answer = (Instant, u16);

#[actix_web::test]
async fn the_daemon_rides_out_postgres_restarts_under_load_without_losing_an_accepted_webhook() {
    let cluster = Arc::new(Cluster::init());
    // pg_ctl blocks: off the test's runtime, so Jira and the poller keep going meanwhile
    let pg_ctl = |args: &'static [&'static str]| {
        let c = cluster.clone();
        async move {
            actix_web::rt::task::spawn_blocking(move || c.pg_ctl(args))
                .await
                .unwrap()
        }
    };
    {
        let mut conn = PgConnection::establish(&cluster.url("postgres")).unwrap();
        diesel::sql_query("CREATE DATABASE jtb")
            .execute(&mut conn)
            .unwrap();
    }
    let url = cluster.url("jtb");
    jira_teams_bridge::db::migrate(&mut PgConnection::establish(&url).unwrap()).unwrap();
    let a = appliance(&url, ISSUES, 5);
    let port = free_port();
    let mut daemon = Daemon::start(&a.env(port, 5), port, &a.state_dir.0.join("serve.log")).await;
    let pid = daemon.child.id();
    let base = daemon.base.clone();

    // Jira: four senders, one webhook every 20 ms each, until told to stop
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hooks: Arc<Mutex<Vec<(usize, Instant, u16)>>> = Arc::default();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (stop, next, hooks, base, path) = (
            stop.clone(),
            next.clone(),
            hooks.clone(),
            base.clone(),
            a.hook_path(),
        );
        senders.push(actix_web::rt::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let seq = next.fetch_add(1, Ordering::SeqCst);
                let sent = Instant::now();
                let status = post_webhook(&client, &base, &path, ISSUES, seq).await;
                hooks.lock().unwrap().push((seq, sent, status));
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // a load balancer polling readiness every 200 ms
    let ready: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let poller = {
        let (stop, ready, url) = (stop.clone(), ready.clone(), format!("{base}/readyz"));
        actix_web::rt::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let status = client
                    .get(&url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                ready.lock().unwrap().push((sent, status));
                actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let readyz = |after: Instant| {
        ready
            .lock()
            .unwrap()
            .iter()
            .any(|(t, s)| *t > after && *s == 200)
    };

    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    pg_ctl(&["-m", "fast", "restart"]).await;
    let restarted = Instant::now();
    assert!(
        holds_within(30, || readyz(restarted)).await,
        "ready again after a fast restart"
    );
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    pg_ctl(&["-m", "fast", "stop"]).await;
    let down = Instant::now();
    actix_web::rt::time::sleep(Duration::from_secs(5)).await;
    let up = Instant::now();
    pg_ctl(&["start"]).await;
    let recovered = holds_within(30, || readyz(up)).await;
    let recovered_after = up.elapsed();
    // keep Jira busy a little longer: what comes after the recovery must be taken too
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    poller.await.unwrap();
    assert!(
        recovered,
        "/readyz never answered 200 after the database came back\n{}",
        daemon.log_text()
    );
    assert!(
        daemon.child.try_wait().unwrap().is_none() && daemon.child.id() == pid,
        "the same daemon process kept running"
    );

    // while the database was surely down (a check waits up to connect_timeout_secs = 2 for a
    // connection), readiness said so
    let while_down: Vec<u16> = ready
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t >= down && *t + Duration::from_millis(2500) < up)
        .map(|(_, s)| *s)
        .collect();
    assert!(
        !while_down.is_empty() && while_down.iter().all(|s| *s == 503),
        "/readyz while the database was down: {while_down:?}"
    );

    let hooks = hooks.lock().unwrap().clone();
    let accepted: Vec<usize> = hooks
        .iter()
        .filter(|(_, _, s)| (200..300).contains(s))
        .map(|(seq, _, _)| *seq)
        .collect();
    let refused: Vec<u16> = hooks
        .iter()
        .filter(|(_, _, s)| !(200..300).contains(s))
        .map(|(_, _, s)| *s)
        .collect();
    assert!(
        refused.iter().all(|s| (500..600).contains(s)),
        "a webhook refused for the outage gets a 5xx (Jira retries those): {refused:?}"
    );
    assert!(
        !refused.is_empty(),
        "the outage was under load: some webhooks were refused"
    );
    assert!(
        hooks
            .iter()
            .any(|(_, t, s)| *t > up + recovered_after && (200..300).contains(s)),
        "webhooks are accepted again after the recovery"
    );

    let all_there = holds_within(60, || {
        let got = a.cards_by_seq();
        accepted.iter().all(|s| got.contains_key(s))
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_secs(6)).await;
    let (delivered, lost, dups) = a.tally(&accepted);
    let batch = jira_teams_bridge::jobs::outbox::RunnerConfig::default().batch as usize;
    summary(
        "PostgreSQL restart + 5 s stop under load",
        accepted.len(),
        delivered,
        lost,
        dups,
        &format!(
            "<= {} (a claim batch per outage; {} refused with 5xx)",
            2 * batch,
            refused.len()
        ),
    );
    println!(
        "postgres: {} webhooks, {} accepted, {} refused; ready {:?} after the start",
        hooks.len(),
        accepted.len(),
        refused.len(),
        recovered_after
    );
    assert!(
        all_there && lost == 0,
        "{lost} accepted webhooks never became a card"
    );
    assert!(dups <= 2 * batch, "{dups} duplicates");
    daemon.kill();
}
