//! Benchmarks driven by `tests/bench/run.sh` (ignored in normal runs; release build): the
//! shared pieces (wrk runs and their parsing, where results go) and the API relay benchmark.
//! The end-to-end benchmark is in `bench_e2e`.
//!
//! Results: each benchmark writes `<name>.md` (markdown table rows) and `<name>.json` into
//! `JTB_BENCH_DIR` (default `target/bench`); `JTB_BENCH_SECS` is the length of one measured
//! run. A warm-up run before each measured one is not counted.

use std::process::{Child, Command};
use std::time::Duration;

use crate::support::app::TempDir;
use crate::support::bench::{secs, write_results};
use crate::support::jwt::{claims, sign};
use crate::support::world::create_chat_with_bob;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, world};
use serde_json::json;

/// One wrk run's result.
#[derive(Debug, Clone, Copy)]
pub struct Wrk {
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failed: u64,
}

fn wrk_ms(v: &str) -> f64 {
    let num = |s: &str| s.parse::<f64>().unwrap();
    if let Some(us) = v.strip_suffix("us") {
        num(us) / 1000.0
    } else if let Some(ms) = v.strip_suffix("ms") {
        num(ms)
    } else if let Some(m) = v.strip_suffix('m') {
        num(m) * 60_000.0
    } else {
        num(v.trim_end_matches('s')) * 1000.0
    }
}

/// Runs wrk (1 thread, `connections` connections, `secs` seconds) with request headers.
pub async fn wrk(url: &str, headers: &[String], connections: u32, secs: u64) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s")])
        .arg("--latency");
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    cmd.arg(url);
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let field = |line_start: &str, idx: usize| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.split_whitespace().nth(idx).map(str::to_owned))
    };
    let failed = field("Non-2xx", 4).map_or(0, |n| n.parse().unwrap())
        + field("Socket errors", 3).map_or(0, |_| 1);
    Wrk {
        per_sec: field("Requests/sec:", 1).unwrap().parse().unwrap(),
        p50_ms: wrk_ms(&field("50%", 1).unwrap()),
        p99_ms: wrk_ms(&field("99%", 1).unwrap()),
        failed,
    }
}

/// nginx in the foreground from a temporary prefix, proxying every path to `upstream`.
pub struct Nginx {
    child: Child,
    pub base: String,
    _dir: TempDir,
}

impl Nginx {
    pub fn start(upstream: &str) -> Nginx {
        let dir = TempDir::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/');
        let conf = format!(
            "daemon off;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
              upstream double {{ server {upstream}; keepalive 64; }}\n\
              server {{ listen 127.0.0.1:{port};\n  location / {{ proxy_pass http://double;\n\
                proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n}}\n",
            d = dir.0.display()
        );
        std::fs::write(dir.0.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.0.join("nginx.conf"))
            .spawn()
            .expect("nginx runs (apt-get install nginx-light)");
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < until, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One page of chat messages (20 of 50) read three ways, each with wrk at concurrency 1 and 16:
/// through the appliance's API (Jira JWT check, instance and link lookups, the user's Graph
/// token from the vault, the Graph call, sanitising), straight from the Graph double with the
/// same token, and through nginx `proxy_pass` to the double.
#[actix_web::test]
#[ignore = "benchmark: run with tests/bench/run.sh"]
async fn bench_relay_overhead() {
    let secs = secs();
    let w = world().await;
    w.jira.add_issue(10045, "ABC-1", "Printer on fire", &[]);
    w.link(ALICE_KEY, ALICE_OID).await;
    w.link(BOB_KEY, BOB_OID).await;
    let chat = create_chat_with_bob(&w).await;
    w.graph.seed_messages(&chat, 50, BOB_OID);
    let token = w
        .entra
        .tokens
        .lock()
        .unwrap()
        .iter()
        .find(|(_, t)| t.oid.as_deref() == Some(ALICE_OID) && !t.revoked)
        .map(|(k, _)| k.clone())
        .unwrap();
    let nginx = Nginx::start(&w.graph.base);
    let graph_path = format!("/v1.0/chats/{chat}/messages?$top=20");
    let path = format!("/api/v1/issues/10045/chats/{chat}/messages?limit=20");
    let bearer = vec![format!("Authorization: Bearer {token}")];
    // a fresh token per run (a GET's token may be reused within its 3 minutes)
    let jwt = || {
        let jira = crate::support::jwt::JiraApp {
            public_id: w.jira_app.public_id.clone(),
            secret: w.jira_app.secret.clone(),
        };
        vec![format!(
            "Authorization: JWT {}",
            sign(&jira.secret, &claims(&jira, "GET", &path, ALICE_KEY))
        )]
    };
    // the three answer the same page
    for (url, headers) in [
        (format!("{}{graph_path}", w.graph.base), bearer.clone()),
        (format!("{}{graph_path}", nginx.base), bearer.clone()),
        (w.app.url(&path), jwt()),
    ] {
        let mut req = reqwest::Client::new().get(&url);
        for h in &headers {
            let (k, v) = h.split_once(": ").unwrap();
            req = req.header(k, v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
    }

    let mut md = String::from(
        "| concurrency | path | requests/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n",
    );
    let mut rows = Vec::new();
    for c in [1u32, 16] {
        let mut run = async |name: &str, url: String, headers: Vec<String>| {
            wrk(&url, &headers, c, 1).await; // warm-up
            let r = wrk(&url, &headers, c, secs).await;
            assert_eq!(r.failed, 0, "{name}: failed requests");
            md += &format!(
                "| {c} | {name} | {:.0} | {:.2} | {:.2} |\n",
                r.per_sec, r.p50_ms, r.p99_ms
            );
            rows.push(json!({"concurrency": c, "path": name, "per_sec": r.per_sec,
                             "p50_ms": r.p50_ms, "p99_ms": r.p99_ms}));
            r
        };
        let direct = run(
            "Graph double, direct",
            format!("{}{graph_path}", w.graph.base),
            bearer.clone(),
        )
        .await;
        let proxied = run(
            "nginx proxy_pass to the double",
            format!("{}{graph_path}", nginx.base),
            bearer.clone(),
        )
        .await;
        let relayed = run("through the appliance", w.app.url(&path), jwt()).await;
        md += &format!(
            "| {c} | appliance vs direct | ×{:.2} | {:+.2} | {:+.2} |\n\
             | {c} | appliance vs nginx | ×{:.2} | {:+.2} | {:+.2} |\n",
            relayed.per_sec / direct.per_sec,
            relayed.p50_ms - direct.p50_ms,
            relayed.p99_ms - direct.p99_ms,
            relayed.per_sec / proxied.per_sec,
            relayed.p50_ms - proxied.p50_ms,
            relayed.p99_ms - proxied.p99_ms,
        );
        rows.push(json!({"concurrency": c,
            "ratio_vs_direct": relayed.per_sec / direct.per_sec,
            "ratio_vs_nginx": relayed.per_sec / proxied.per_sec,
            "p99_diff_vs_direct_ms": relayed.p99_ms - direct.p99_ms,
            "p99_diff_vs_nginx_ms": relayed.p99_ms - proxied.p99_ms}));
    }
    write_results(
        "relay",
        &md,
        &json!({"seconds_per_run": secs, "rows": rows}),
    );
}
