//! *Register in Jira for me* on an instance's webhook page, against the Jira DC double on 9.x
//! (legacy `/rest/webhooks/1.0/webhook`, URL token) and 10.x (`/rest/jira-webhook/1.0/webhooks`,
//! signed): what the admin sees, what Jira ends up with, that a second run writes nothing, that
//! Jira's refusals are shown with nothing changed, and that the token is used but never stored.

use crate::fakes::jira::{self, Jira};
use crate::support::app::{TestApp, between, spawn_app, spawn_app_with};
use crate::support::daemon::{Daemon, free_port};
use crate::support::webhook::fixture;
use actix_web::web;
use diesel::prelude::*;
use jira_teams_bridge::db::models::jira_instance::JiraInstance;
use jira_teams_bridge::db::schema::secret_access_audit;

const ADMIN: &str = "JIRAUSER10001";
const USER: &str = "JIRAUSER10002";
const EVENTS: [&str; 6] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

struct Site {
    app: TestApp,
    jira: web::Data<Jira>,
    instance: uuid::Uuid,
    public_id: String,
    /// A Jira administrator's PAT.
    pat: String,
}

async fn site_on(app: TestApp, version: &str) -> Site {
    let (base, jira) = jira::start("/jira");
    jira.set_version(version);
    jira.add_user(ADMIN, "jadmin", "Jira Admin");
    jira.add_user(USER, "juser", "Jira User");
    jira.make_admin(ADMIN);
    app.complete_setup().await;
    let (public_id, _) = app.register_instance(&base).await;
    let instance = JiraInstance::find_by_public_id(&mut app.db.conn(), &public_id)
        .unwrap()
        .unwrap()
        .id;
    let pat = jira.mint_token(ADMIN);
    Site {
        app,
        jira,
        instance,
        public_id,
        pat,
    }
}

async fn site(version: &str) -> Site {
    site_on(spawn_app().await, version).await
}

impl Site {
    fn ours(&self) -> String {
        format!(
            "{}/webhooks/jira/{}",
            self.app.state.internal_url, self.public_id
        )
    }

    fn row(&self) -> JiraInstance {
        JiraInstance::find(&mut self.app.db.conn(), self.instance)
            .unwrap()
            .unwrap()
    }

    async fn register(&self, pat: &str) -> String {
        let res = self
            .app
            .post_form(
                &format!("/admin/instances/{}/webhook/register", self.instance),
                &[("pat", pat)],
            )
            .await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    async fn button(&self, what: &str) -> String {
        self.app
            .post_form(
                &format!("/admin/instances/{}/webhook/{what}", self.instance),
                &[],
            )
            .await
            .text()
            .await
            .unwrap()
    }

    /// (outcome, detail) of the PAT's audit rows, oldest first.
    fn pat_audit(&self) -> Vec<(String, String)> {
        secret_access_audit::table
            .filter(secret_access_audit::secret_kind.eq("jira_admin_pat"))
            .order(secret_access_audit::id)
            .select((
                secret_access_audit::outcome,
                secret_access_audit::detail.assume_not_null(),
            ))
            .load(&mut self.app.db.conn())
            .unwrap()
    }

    async fn deliver(&self, url: &str, signature: Option<String>) -> u16 {
        let path = url.trim_start_matches(&self.app.state.internal_url);
        let mut req = self
            .app
            .client
            .post(self.app.url(path))
            .header("Content-Type", "application/json")
            .body(fixture("issue_updated"));
        if let Some(s) = signature {
            req = req.header("X-Hub-Signature", s);
        }
        req.send().await.unwrap().status().as_u16()
    }
}

fn result(html: &str) -> String {
    between(
        html,
        "<p class=\"notice\" role=\"status\" id=\"register-result\">",
        "</p>",
    )
}

fn problem(html: &str) -> String {
    between(
        html,
        "<p class=\"error\" role=\"alert\" id=\"register-problem\">",
        "</p>",
    )
}

fn has_our_events(events: &[String]) -> bool {
    EVENTS.iter().all(|e| events.iter().any(|x| x == e))
}

#[actix_web::test]
async fn on_jira_9_the_legacy_api_gets_our_url_with_a_token_and_our_events() {
    let s = site("9.12.4").await;
    let page = s.register(&s.pat).await;
    assert_eq!(
        result(&page),
        "Jira 9.12.4: the webhook was created at /rest/webhooks/1.0/webhook."
    );
    assert_eq!(
        s.jira.webhook_writes(),
        ["POST /jira/rest/webhooks/1.0/webhook"]
    );
    let hooks = s.jira.webhooks();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert!(
        hook.url.starts_with(&format!("{}?token=", s.ours())),
        "{}",
        hook.url
    );
    assert!(has_our_events(&hook.events) && !hook.exclude_body && hook.secret.is_none());
    // the URL with its token is shown once, as the token button does, and works
    let shown = between(
        &page,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    );
    assert_eq!(shown, hook.url);
    assert!(s.row().webhook_token_hash.is_some() && s.row().webhook_secret.is_none());
    assert_eq!(s.deliver(&hook.url, None).await, 200);
    assert_eq!(s.deliver(&s.ours(), None).await, 401, "the token is needed");
    let audit = s.pat_audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "used_not_stored");
    assert_eq!(audit[0].1, "Jira 9.12.4: webhook created");
}

#[actix_web::test]
async fn on_jira_10_the_new_api_gets_a_signed_webhook_and_the_secret_is_stored_after() {
    let s = site("10.3.1").await;
    let page = s.register(&s.pat).await;
    assert_eq!(
        result(&page),
        "Jira 10.3.1: the webhook was created at /rest/jira-webhook/1.0/webhooks."
    );
    assert_eq!(
        s.jira.webhook_writes(),
        ["POST /jira/rest/jira-webhook/1.0/webhooks"]
    );
    let hooks = s.jira.webhooks();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(
        hook.url,
        s.ours(),
        "no token in the URL of a signed webhook"
    );
    assert!(has_our_events(&hook.events) && !hook.exclude_body);
    let secret = hook.secret.clone().expect("Jira got a signing secret");
    let shown = between(
        &page,
        "<code id=\"webhook-secret\" class=\"secret\">",
        "</code>",
    );
    assert_eq!(shown, secret);
    assert!(page.contains("signed deliveries required"));
    // what Jira signs with is what the appliance checks
    let signature = s.jira.sign_delivery(hook.id, &fixture("issue_updated"));
    assert_eq!(s.deliver(&s.ours(), Some(signature)).await, 200);
    assert_eq!(s.deliver(&s.ours(), None).await, 401);
}

#[actix_web::test]
async fn on_jira_10_a_secret_made_by_hand_before_is_the_one_jira_gets() {
    let s = site("10.3.1").await;
    let page = s.button("secret").await;
    let secret = between(
        &page,
        "<code id=\"webhook-secret\" class=\"secret\">",
        "</code>",
    );
    let page = s.register(&s.pat).await;
    assert!(
        !page.contains("id=\"webhook-secret\""),
        "nothing new to show"
    );
    assert_eq!(
        s.jira.webhooks()[0].secret.as_deref(),
        Some(secret.as_str())
    );
    // reading the stored secret to hand it over is audited like every other read
    let reads: i64 = secret_access_audit::table
        .filter(secret_access_audit::secret_kind.eq("jira_webhook_secret"))
        .filter(secret_access_audit::purpose.eq("register the Jira webhook"))
        .count()
        .get_result(&mut s.app.db.conn())
        .unwrap();
    assert_eq!(reads, 1);
}

#[actix_web::test]
async fn a_second_run_writes_nothing_and_says_so() {
    for version in ["9.12.4", "10.3.1"] {
        let s = site(version).await;
        s.register(&s.pat).await;
        let before = (s.row().webhook_token_hash, s.row().webhook_secret);
        let page = s.register(&s.pat).await;
        assert_eq!(
            result(&page),
            format!("Jira {version}: the webhook is already registered, nothing changed.")
        );
        assert!(!page.contains("class=\"secret\""), "no new credential");
        assert_eq!(
            s.jira.webhook_writes().len(),
            1,
            "{version}: one write only"
        );
        assert_eq!(s.jira.webhooks().len(), 1);
        assert_eq!((s.row().webhook_token_hash, s.row().webhook_secret), before);
        let audit = s.pat_audit();
        assert_eq!(
            audit[1],
            (
                "used_not_stored".to_owned(),
                format!("Jira {version}: webhook already registered, nothing changed")
            )
        );
    }
}

#[actix_web::test]
async fn an_existing_webhook_with_missing_events_is_updated_not_duplicated() {
    // Jira 9: made by hand with the appliance's URL token and two events
    let s = site("9.12.4").await;
    let page = s.button("token").await;
    let url = between(
        &page,
        "<code id=\"webhook-url\" class=\"secret\">",
        "</code>",
    );
    let hash = s.row().webhook_token_hash;
    let id = s
        .jira
        .add_webhook("Teams", &url, &["jira:issue_created", "worklog_created"]);
    let page = s.register(&s.pat).await;
    assert_eq!(
        result(&page),
        "Jira 9.12.4: the webhook was updated at /rest/webhooks/1.0/webhook."
    );
    assert_eq!(
        s.jira.webhook_writes(),
        [format!("PUT /jira/rest/webhooks/1.0/webhook/{id}")]
    );
    let hooks = s.jira.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, url, "the known token is kept");
    assert_eq!(hooks[0].name, "Teams", "the admin's name is kept");
    assert!(has_our_events(&hooks[0].events));
    assert!(
        hooks[0].events.iter().any(|e| e == "worklog_created"),
        "theirs kept"
    );
    assert_eq!(s.row().webhook_token_hash, hash);
    assert!(!page.contains("id=\"webhook-url\""), "nothing new to show");

    // Jira 10: made by hand without a secret (unsigned): updated, and signed from now on
    let s = site("10.3.1").await;
    let id = s.jira.add_webhook("Teams", &s.ours(), &EVENTS);
    let page = s.register(&s.pat).await;
    assert!(result(&page).contains("the webhook was updated"), "{page}");
    assert_eq!(
        s.jira.webhook_writes(),
        [format!("PUT /jira/rest/jira-webhook/1.0/webhooks/{id}")]
    );
    assert_eq!(s.jira.webhooks().len(), 1);
    assert!(s.jira.webhooks()[0].secret.is_some() && s.row().webhook_secret.is_some());
    s.register(&s.pat).await;
    assert_eq!(
        s.jira.webhook_writes().len(),
        1,
        "then found by the secret's fingerprint"
    );
}

#[actix_web::test]
async fn a_bad_pat_a_non_admin_pat_and_a_refusal_show_jiras_answer_and_change_nothing() {
    for version in ["9.12.4", "10.3.1"] {
        let s = site(version).await;
        s.button("token").await;
        // a webhook made by hand with an old token: registering would replace it
        let old = s
            .jira
            .add_webhook("Teams", &format!("{}?token=old", s.ours()), &EVENTS);
        let before = (s.row().webhook_token_hash, s.row().webhook_secret);

        let page = s.register("not-a-jira-token").await;
        assert!(
            problem(&page).contains("Jira refused the personal access token (HTTP 401)"),
            "{page}"
        );
        let non_admin = s.jira.mint_token(USER);
        let page = s.register(&non_admin).await;
        assert!(
            problem(&page).starts_with("Nothing was changed. This token&#39;s user is not a Jira administrator (Jira answered HTTP 403): You do not have the permission"),
            "{page}"
        );
        s.jira
            .refuse_next_webhook_write("The webhook URL is not on the allow-list.");
        let page = s.register(&s.pat).await;
        assert!(
            problem(&page).contains(
                "Jira refused the webhook (HTTP 400): The webhook URL is not on the allow-list."
            ),
            "{page}"
        );
        assert!(
            !page.contains("class=\"secret\""),
            "{version}: no new credential shown"
        );
        assert!(s.jira.webhook_writes().is_empty());
        assert_eq!(s.jira.webhooks()[0].url, format!("{}?token=old", s.ours()));
        assert_eq!(s.jira.webhooks()[0].id, old);
        assert_eq!(
            (s.row().webhook_token_hash, s.row().webhook_secret),
            before,
            "{version}: the working credential stays"
        );
        let outcomes: Vec<String> = s.pat_audit().into_iter().map(|(o, _)| o).collect();
        assert_eq!(outcomes, ["refused", "refused", "used_not_stored"]);
    }
}

#[actix_web::test]
async fn a_missing_webhook_api_names_the_version_detected() {
    let s = site("10.3.1").await;
    s.jira.webhooks.lock().unwrap().api_missing = true;
    let page = s.register(&s.pat).await;
    assert!(
        problem(&page).contains(
            "Jira answered 404 at /rest/jira-webhook/1.0/webhooks: serverInfo says this is Jira 10.3.1"
        ),
        "{page}"
    );
    // the manual steps stay on the page
    assert!(page.contains("Administration › System › WebHooks"));
}

#[actix_web::test]
async fn an_unreachable_or_silent_jira_is_said_so() {
    let app = spawn_app_with(|s| s.outbound.timeout_secs = 1).await;
    app.complete_setup().await;
    // nothing listens on port 9 (discard) on a test machine's loopback
    let (closed, _) = app.register_instance("http://127.0.0.1:9/jira").await;
    // a socket that accepts connections and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (quiet, _) = app
        .register_instance(&format!("http://{}/jira", silent.local_addr().unwrap()))
        .await;
    for (public_id, words) in [
        (
            closed,
            "Jira is unreachable: connection refused by 127.0.0.1:9",
        ),
        (quiet, "Jira did not answer in time."),
    ] {
        let id = JiraInstance::find_by_public_id(&mut app.db.conn(), &public_id)
            .unwrap()
            .unwrap()
            .id;
        let page = app
            .post_form(
                &format!("/admin/instances/{id}/webhook/register"),
                &[("pat", "whatever")],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(problem(&page).contains(words), "{page}");
    }
}

#[actix_web::test]
async fn the_pat_is_used_but_stored_nowhere() {
    let s = site("10.3.1").await;
    s.register(&s.pat).await;
    s.register(&s.pat).await;
    let refused = s.jira.mint_token(USER);
    s.register(&refused).await;
    let mut conn = s.app.db.conn();
    let tables: Vec<String> = diesel::sql_query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .load::<Name>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    assert!(tables.len() > 20);
    for table in tables {
        // every column of every row, as text (bytea as hex)
        let rows: Vec<Name> =
            diesel::sql_query(format!("SELECT t::text AS name FROM \"{table}\" t"))
                .load(&mut conn)
                .unwrap();
        for pat in [&s.pat, &refused] {
            let hex = hex::encode(pat.as_bytes());
            assert!(
                rows.iter()
                    .all(|r| !r.name.contains(pat.as_str()) && !r.name.contains(&hex)),
                "a PAT is in {table}"
            );
        }
    }
    let audit = s.pat_audit();
    assert_eq!(audit.len(), 3);
    assert!(audit.iter().all(|(_, d)| !d.contains(&s.pat)));
    // the audit page lists the uses
    let page = s.app.get("/admin/audit").await.text().await.unwrap();
    assert!(page.contains("jira_admin_pat") && page.contains("used_not_stored"));
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[actix_web::test]
async fn a_register_form_without_its_csrf_token_is_refused() {
    let s = site("10.3.1").await;
    let res = s
        .app
        .post_raw(
            &format!("/admin/instances/{}/webhook/register", s.instance),
            &[("pat", s.pat.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        s.jira.requests_since(0, "/rest/").is_empty(),
        "Jira was not asked"
    );
    assert!(s.pat_audit().is_empty());
    // from another site, even with a token
    let csrf = s.app.csrf().await;
    let res = s
        .app
        .client
        .post(
            s.app
                .url(&format!("/admin/instances/{}/webhook/register", s.instance)),
        )
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("pat", s.pat.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(s.jira.webhooks().is_empty());
}

#[actix_web::test]
async fn jira_9_with_signatures_required_is_told_to_stop_requiring_them_first() {
    let s = site_on(spawn_app().await, "9.12.4").await;
    s.button("secret").await;
    let page = s.register(&s.pat).await;
    assert!(
        problem(&page).contains("Jira 9.12.4 cannot sign deliveries"),
        "{page}"
    );
    assert!(s.jira.webhook_writes().is_empty());
}

#[actix_web::test]
async fn the_pat_never_reaches_the_log_of_the_real_daemon() {
    let s = site("10.3.1").await;
    let port = free_port();
    let env = vec![
        ("JTB__DATABASE__URL", s.app.db.url.clone()),
        (
            "JTB__PATHS__STATE_DIR",
            s.app.state_dir.0.display().to_string(),
        ),
        ("JTB__LISTEN__INTERNAL", format!("127.0.0.1:{port}")),
        ("JTB__LOG__LEVEL", "debug".to_owned()),
    ];
    let log = s.app.state_dir.0.join("serve.log");
    let daemon = Daemon::start(&env, port, &log).await;
    // the browser's session and CSRF cookies hold for the daemon too (same database and host)
    let csrf = s.app.csrf().await;
    let refused = s.jira.mint_token(USER);
    for (pat, words) in [
        (s.pat.as_str(), "the webhook was created"),
        (refused.as_str(), "is not a Jira administrator"),
    ] {
        let page = s
            .app
            .client
            .post(format!(
                "{}/admin/instances/{}/webhook/register",
                daemon.base, s.instance
            ))
            .header("Origin", daemon.base.clone())
            .form(&[("csrf", csrf.as_str()), ("pat", pat)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(words), "{page}");
    }
    let text = daemon.log_text();
    assert!(text.contains("Jira webhook registered"), "{text}");
    assert!(
        !text.contains(&s.pat) && !text.contains(&refused),
        "a PAT is in the log"
    );
}
