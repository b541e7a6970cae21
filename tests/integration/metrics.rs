//! Observability: `/metrics` parses as Prometheus text and its counters move with requests,
//! webhooks, deliveries, a throttled Bot Connector and a token refresh; labels carry route
//! patterns, never ids or secrets; the dashboard's 24-hour charts count events of every daemon
//! on the database; JSON logs are one object per line without secrets; long commands report
//! progress.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use secrecy::ExposeSecret;

use crate::fakes::entra::TENANT_ID;
use crate::fakes::{self, bot::Scripted};
use crate::support::app::{TempDir, between, spawn_app, spawn_app_with};
use crate::support::bot::{BotWorld, bot_world_with};
use crate::support::cli::{cli_env, run_cli};
use crate::support::daemon::free_port;
use crate::support::db::TestDb;
use crate::support::metrics::{parse, scrape, scrape_text, value};
use crate::support::wait::eventually;
use crate::support::webhook::{post_fixture_to, webhook_path};
use crate::support::world::{ALICE_KEY, ALICE_OID, World, world};
use crate::support::world::{create_chat_with_bob, install_bot, link_alice_and_bob};

#[actix_web::test]
async fn metrics_parse_as_prometheus_text_and_count_requests_by_route_pattern_not_path() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, shared_secret) = app.register_instance("https://jira.example.com").await;
    let before = scrape(&app.base).await;
    for _ in 0..2 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    // a webhook with a wrong token: refused, counted under the pattern
    let res = app
        .client
        .post(app.url(&format!("/webhooks/jira/{public_id}?token=wrong")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.get("/no/such/page/12345").await.status(), 404);

    let text = scrape_text(&app.base).await;
    let after = parse(&text);
    let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
    assert_eq!(
        value(&after, "jtb_http_requests_total", &healthz)
            - value(&before, "jtb_http_requests_total", &healthz),
        2.0
    );
    assert_eq!(
        value(
            &after,
            "jtb_http_requests_total",
            &[("route", "/webhooks/jira/{public_id}"), ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "jtb_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "jtb_webhooks_total", &[("outcome", "refused")]),
        1.0
    );
    // latency histogram: the count matches the requests, buckets are cumulative
    assert!(
        value(
            &after,
            "jtb_http_request_duration_seconds_count",
            &[("route", "/healthz")]
        ) >= 2.0
    );
    assert_eq!(
        value(
            &after,
            "jtb_http_request_duration_seconds_bucket",
            &[("route", "/healthz"), ("le", "+Inf")]
        ),
        value(
            &after,
            "jtb_http_request_duration_seconds_count",
            &[("route", "/healthz")]
        )
    );
    // figures read at scrape time
    assert_eq!(value(&after, "jtb_database_up", &[]), 1.0);
    assert_eq!(
        value(&after, "jtb_outbox_items", &[("state", "pending")]),
        0.0
    );
    assert!(
        after
            .iter()
            .any(|s| s.name == "jtb_outbox_oldest_pending_age_seconds")
    );
    assert_eq!(value(&after, "jtb_db_pool_max_connections", &[]), 4.0);
    assert!(value(&after, "jtb_db_pool_connections", &[("state", "idle")]) >= 1.0);
    // no ids, no raw paths, no secrets
    assert!(!text.contains(&public_id), "an id became a label");
    assert!(!text.contains("12345"), "a raw path became a label");
    assert!(!text.contains(&shared_secret));
    assert!(!text.contains("wrong"));
}

#[actix_web::test]
async fn metrics_want_the_bearer_token_when_a_token_file_is_set() {
    let dir = TempDir::new();
    let file = dir.0.join("metrics-token");
    std::fs::write(&file, "s3cret-scrape-token-0123456789\n").unwrap();
    let path = file.display().to_string();
    let app = spawn_app_with(move |s| s.metrics.token_file = path).await;
    let url = app.url("/metrics");
    let plain = reqwest::Client::new();
    assert_eq!(plain.get(&url).send().await.unwrap().status(), 401);
    let wrong = plain
        .get(&url)
        .bearer_auth("s3cret-scrape-token-0123456780")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = plain
        .get(&url)
        .bearer_auth("s3cret-scrape-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let text = right.text().await.unwrap();
    parse(&text);
    assert!(!text.contains("s3cret-scrape-token"));
    // a too short token is refused at start, naming the key
    std::fs::write(&file, "short").unwrap();
    let mut s = jira_teams_bridge::config::Settings::default();
    s.metrics.token_file = file.display().to_string();
    let err = s.validate().unwrap_err().to_string();
    assert!(err.contains("metrics.token_file"), "{err}");
}

#[actix_web::test]
async fn a_token_refresh_is_counted_by_kind_and_outcome_and_no_token_or_user_reaches_metrics() {
    let w = world().await;
    w.link(ALICE_KEY, ALICE_OID).await;
    crate::support::world::expire_microsoft_token(&w);
    let mapping = {
        let mut conn = w.conn();
        jira_teams_bridge::db::models::user_mapping::UserMapping::find(
            &mut conn,
            w.instance_id,
            ALICE_KEY,
        )
        .unwrap()
        .unwrap()
    };
    let actor = jira_teams_bridge::db::models::audit::Actor::System("test".into());
    let token = jira_teams_bridge::services::tokens::microsoft_token(
        &w.app.state,
        &mapping,
        &actor,
        "test",
        false,
    )
    .await
    .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let text = scrape_text(&w.app.base).await;
    let samples = parse(&text);
    assert_eq!(
        value(
            &samples,
            "jtb_token_refreshes_total",
            &[("kind", "microsoft_user"), ("outcome", "ok")]
        ),
        1.0
    );
    assert!(
        value(
            &samples,
            "jtb_outbound_requests_total",
            &[("service", "entra"), ("status", "200")]
        ) >= 1.0
    );
    assert!(!text.contains(token.expose_secret()), "a token in /metrics");
    for id in [ALICE_KEY, ALICE_OID, fakes::entra::TENANT_ID] {
        assert!(!text.contains(id), "a user or tenant id in /metrics: {id}");
    }
}

struct Notify {
    b: BotWorld,
    chat: String,
    hook_path: String,
}

impl std::ops::Deref for Notify {
    type Target = BotWorld;
    fn deref(&self) -> &BotWorld {
        &self.b
    }
}

/// A linked chat with the bot installed (as in `notify.rs`), the Bot Connector double on TLS,
/// activity flushed every second.
async fn notify_setup() -> Notify {
    let b = bot_world_with(|s| s.metrics.activity_flush_secs = 1).await;
    link_alice_and_bob(&b.w).await;
    let chat = create_chat_with_bob(&b.w).await;
    install_bot(&mut b.w.conn(), &chat, TENANT_ID, &b.bot.service_url());
    let hook_path = webhook_path(&b.w).await;
    Notify { b, chat, hook_path }
}

fn outbox_count(w: &World, status: &str) -> i64 {
    use jira_teams_bridge::db::schema::outbox;
    outbox::table
        .filter(outbox::status.eq(status))
        .count()
        .get_result(&mut w.conn())
        .unwrap()
}

/// The dashboard's total for one chart.
fn chart_total(html: &str, key: &str) -> i64 {
    let start = format!("id=\"chart-{key}\" data-total=\"");
    between(html, &start, "\"").parse().unwrap()
}

#[actix_web::test]
async fn webhooks_deliveries_and_a_throttled_bot_connector_move_the_counters_and_the_charts_of_every_daemon()
 {
    let s = notify_setup().await;
    // what linking the chat queued (its remote link in Jira) is delivered before counting starts
    eventually("the set-up's deliveries to settle", 20, || {
        outbox_count(&s.w, "pending") == 0
    })
    .await;
    let done_before = outbox_count(&s.w, "done");
    let before = scrape(&s.w.app.base).await;
    s.bot.script(&[Scripted::Throttled(1)]);
    post_fixture_to(
        &format!("{}{}", &s.w.app.base, &s.hook_path),
        "issue_updated",
    )
    .await;
    eventually("the card", 20, || !s.bot.received_for(&s.chat).is_empty()).await;
    eventually("every delivery to settle", 20, || {
        outbox_count(&s.w, "pending") == 0
    })
    .await;
    let done = outbox_count(&s.w, "done") - done_before;
    assert!(done >= 1);

    let after = scrape(&s.w.app.base).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(moved("jtb_webhooks_total", &[("outcome", "accepted")]), 1.0);
    assert_eq!(
        moved(
            "jtb_outbound_requests_total",
            &[("service", "bot connector"), ("status", "429")]
        ),
        1.0
    );
    assert!(
        moved(
            "jtb_outbound_requests_total",
            &[("service", "bot connector"), ("status", "201")]
        ) + moved(
            "jtb_outbound_requests_total",
            &[("service", "bot connector"), ("status", "200")]
        ) >= 1.0
    );
    assert_eq!(
        moved(
            "jtb_outbox_deliveries_total",
            &[("kind", "chat_notification"), ("outcome", "done")]
        ),
        1.0
    );
    assert_eq!(
        moved("jtb_outbox_deliveries_total", &[("outcome", "done")]),
        done as f64
    );

    // the dashboard of this daemon
    let html = s.w.app.get("/admin").await.text().await.unwrap();
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(!html.contains("<script"), "no script on the dashboard");
    assert_eq!(chart_total(&html, "webhook_received"), 1);
    // the chart counts since the start, the remote link of the set-up included
    assert_eq!(chart_total(&html, "delivered"), done + done_before);
    assert_eq!(chart_total(&html, "outbound_throttled"), 1);
    // the 429 sent the delivery back to the queue once (Bot Connector calls are not retried
    // inside the call: the outbox retries after Retry-After)
    assert_eq!(chart_total(&html, "delivery_failed"), 1);
    assert!(html.contains("UTC: 1</title>"), "{html}");

    // a second daemon on the same database (a restart, or scale-out) sees them too and adds its own
    let mut settings = (*s.w.app.state.settings).clone();
    settings.listen.internal = "127.0.0.1:0".into();
    let second = jira_teams_bridge::startup::Application::build(settings)
        .await
        .expect("second daemon builds");
    let second_base = format!("http://{}", second.internal_addr());
    actix_web::rt::spawn(second.run_until_stopped());
    post_fixture_to(
        &format!("{}{}", &second_base, &s.hook_path),
        "comment_created",
    )
    .await;
    eventually("the second card", 20, || {
        s.bot.received_for(&s.chat).len() >= 2
    })
    .await;
    eventually("every delivery to settle", 20, || {
        outbox_count(&s.w, "pending") == 0
    })
    .await;
    let done = outbox_count(&s.w, "done");
    // the session cookie is valid on any daemon (cookies are not port-scoped)
    let html =
        s.w.app
            .client
            .get(format!("{second_base}/admin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert_eq!(chart_total(&html, "webhook_received"), 2);
    // deliveries happened in either daemon; the first one's arrive within its flush interval
    let until = Instant::now() + Duration::from_secs(10);
    let mut delivered = chart_total(&html, "delivered");
    while delivered != done {
        assert!(Instant::now() < until, "delivered {delivered} of {done}");
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let html =
            s.w.app
                .client
                .get(format!("{second_base}/admin"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        delivered = chart_total(&html, "delivered");
    }
    assert_eq!(chart_total(&html, "outbound_throttled"), 1);
}

/// Runs `serve` with `env` until `/healthz` answers, calls `visit`, stops it with SIGTERM and
/// returns what it wrote to stdout and stderr.
async fn serve_and_stop(env: &[(&str, String)], port: u16, visit: &[&str]) -> String {
    let dir = TempDir::new();
    let config = dir.0.join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let log = dir.0.join("log");
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jira-teams-bridge"));
    cmd.arg("--config").arg(&config).arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("JTB__") || k == "RUST_LOG" || k == "JOURNAL_STREAM" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("JTB__LISTEN__INTERNAL", format!("127.0.0.1:{port}"));
    let mut child = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < until, "serve did not come up");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    for path in visit {
        let body = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        std::fs::write(dir.0.join("visited"), body).unwrap();
    }
    let visited = std::fs::read_to_string(dir.0.join("visited")).unwrap_or_default();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    format!(
        "{}\n--- last body ---\n{visited}",
        std::fs::read_to_string(&log).unwrap()
    )
}

#[actix_web::test]
async fn json_logs_are_one_object_per_line_honour_log_level_and_carry_no_secret() {
    let db = TestDb::empty();
    let state = TempDir::new();
    let user: String = {
        #[derive(QueryableByName)]
        struct U {
            #[diesel(sql_type = diesel::sql_types::Text)]
            u: String,
        }
        diesel::sql_query("SELECT current_user::text AS u")
            .get_result::<U>(&mut db.conn())
            .unwrap()
            .u
    };
    // a password in the database URL and credentials in the proxy URL: neither may be logged
    let db_password = "Db-Pa55word-never-logged";
    let proxy_password = "Pr0xy-Secret-never-logged";
    let url = db.url.replacen(
        "postgresql:///",
        &format!("postgresql://{user}:{db_password}@/"),
        1,
    );
    assert_ne!(url, db.url, "the test database URL has the expected shape");
    let env = vec![
        ("JTB__DATABASE__URL", url),
        ("JTB__PATHS__STATE_DIR", state.0.display().to_string()),
        (
            "JTB__OUTBOUND__PROXY",
            format!("http://proxyuser:{proxy_password}@127.0.0.1:9"),
        ),
        ("JTB__LOG__FORMAT", "json".into()),
        ("JTB__LOG__LEVEL", "info".into()),
    ];
    let output = serve_and_stop(&env, free_port(), &["/healthz", "/metrics"]).await;
    let (log, metrics) = output.split_once("\n--- last body ---\n").unwrap();
    let mut migrations = Vec::new();
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        if v["message"] == "applying migration" {
            migrations.push(v["migration"].as_str().unwrap().to_owned());
        }
        lines += 1;
    }
    assert!(lines >= 3, "{log}");
    assert!(
        migrations
            .iter()
            .any(|m| m == "2026-11-26-000018_create_activity_bucket"),
        "each migration is logged: {migrations:?}"
    );
    assert!(log.contains("\"listening\""), "{log}");
    parse(metrics);
    for secret in [db_password, proxy_password] {
        assert!(!log.contains(secret), "a secret in the log");
        assert!(!metrics.contains(secret), "a secret in /metrics");
    }

    // log.level = warn keeps the info lines out
    let env: Vec<_> = env
        .into_iter()
        .map(|(k, v)| {
            if k == "JTB__LOG__LEVEL" {
                (k, "warn".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    let output = serve_and_stop(&env, free_port(), &["/healthz"]).await;
    let (log, _) = output.split_once("\n--- last body ---\n").unwrap();
    assert!(!log.contains("\"INFO\""), "{log}");
    assert!(!log.contains("\"listening\""), "{log}");
}

#[actix_web::test]
async fn migrate_names_each_migration_and_rotate_key_counts_the_secrets_it_re_encrypts() {
    let db = TestDb::empty();
    let state = TempDir::new();
    let env = vec![
        ("JTB__DATABASE__URL", db.url.clone()),
        ("JTB__PATHS__STATE_DIR", state.0.display().to_string()),
    ];
    let (code, stdout, stderr) = run_cli(&["migrate"], &env);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("applying migration 2026-11-25-000001_create_admin"),
        "{stderr}"
    );
    assert!(
        stderr.contains("applying migration 2026-11-26-000018_create_activity_bucket"),
        "{stderr}"
    );

    let app = spawn_app().await;
    app.complete_setup().await;
    app.register_instance("https://jira.example.com").await;
    app.register_instance("https://servicedesk.example.com/jira")
        .await;
    let total = jira_teams_bridge::db::models::secret::count_all(&mut app.db.conn()).unwrap();
    assert!(total >= 2);
    let (code, stdout, stderr) = run_cli(&["rotate-key"], &cli_env(&app));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("re-encrypting: {total} of {total} secrets")),
        "{stderr}"
    );
    assert!(stderr.contains("re-encrypting: 1 of "), "{stderr}");
}
