//! `jira-teams-bridge doctor`: checks an installation end to end and says what to do about each
//! problem. Human output or `--json`; the process exits non-zero when any check fails. Each
//! instance's OAuth 2.0 incoming link is checked in `jira_oauth`.

mod jira_oauth;

use std::time::Duration;

use diesel::Connection;
use diesel::pg::PgConnection;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::clients::entra::{AppTokens, ClientCredential};
use crate::clients::http::{OutboundHttp, RetryPolicy};
use crate::config::Settings;
use crate::crypto::Vault;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::domain::cloud::Cloud;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skipped,
    /// Works, but something users notice is off (does not fail the run).
    Warn,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: Status::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: Status::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: Status::Warn,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The remote links the appliance writes into Jira issues carry its URL and icon: a Jira on
/// https shows no icon served over http (mixed content) and its users' browsers warn about the
/// links.
fn remote_link_check(settings: &Settings, instances: &[JiraInstance]) -> Check {
    let name = "remote link icon";
    let url = match settings.internal_addr() {
        Ok(addr) => settings.internal_base_url(addr),
        Err(_) => settings.listen.internal_url.clone(),
    };
    if url.starts_with("https://") {
        return ok(
            name,
            format!("links and the Teams icon are served from {url}"),
        );
    }
    let on_https: Vec<&str> = instances
        .iter()
        .filter(|i| i.remote_links && i.base_url.starts_with("https://"))
        .map(|i| i.public_id.as_str())
        .collect();
    let detail = if on_https.is_empty() {
        format!(
            "listen.internal_url is http ({url}): a Jira on https will not show the Teams icon of the chats' remote links"
        )
    } else {
        format!(
            "listen.internal_url is http ({url}) while Jira instance(s) {} run on https: their issues show the chats' remote links without the Teams icon",
            on_https.join(", ")
        )
    };
    warn(
        name,
        detail,
        "set listen.internal_url to the https URL users reach the appliance at (TLS on the internal listener, or a reverse proxy in front of it)",
    )
}

fn skipped(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: Status::Skipped,
        detail: detail.into(),
        fix: None,
    }
}

/// Runs every check.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let mut checks = vec![ok("config", "configuration loaded and valid")];

    // master key
    let key_path = settings.master_key_path();
    let mut working_vault = None;
    match Vault::open(&key_path, false) {
        Ok((vault, _)) if vault.self_test() => {
            checks.push(ok("master key", format!("{} (current version v{})", key_path.display(), vault.current_version())));
            working_vault = Some(vault);
        }
        Ok(_) => checks.push(fail("master key", "the key does not encrypt and decrypt", "restore the key file from the backup taken with the database")),
        Err(e) => checks.push(fail("master key", e.to_string(), "the daemon creates it on first start; otherwise restore it from backup and make it 0600, owned by the service user")),
    }

    // database, migrations, clock
    let url = settings
        .database_url()
        .map(|u| u.expose_secret().to_owned())
        .unwrap_or_default();
    let conn = PgConnection::establish(&url);
    let mut instances = Vec::new();
    let mut admin_registration = None;
    match conn {
        Err(e) => {
            checks.push(fail("database", format!("cannot connect: {e}"), "check database.url, and that PostgreSQL runs (systemctl status postgresql) and accepts this user"));
            checks.push(skipped("migrations", "database unreachable"));
            checks.push(skipped("clock", "database unreachable"));
        }
        Ok(mut conn) => {
            checks.push(ok("database", "connected"));
            match db::pending_migrations(&mut conn) {
                Ok(0) => checks.push(ok("migrations", format!("schema current ({})", db::schema_version(&mut conn).ok().flatten().unwrap_or_default()))),
                Ok(n) => checks.push(fail("migrations", format!("{n} migration(s) pending"), "run `jira-teams-bridge migrate` (serve does it on start unless database.run_migrations = false)")),
                Err(e) => checks.push(fail("migrations", e.to_string(), "check that the database user owns the schema")),
            }
            checks.push(clock_check(&mut conn));
            if settings.microsoft.client_id.is_empty() {
                admin_registration =
                    Some(registration_from_admin(&mut conn, working_vault.as_ref()));
            }
            match JiraInstance::list(&mut conn) {
                Ok(list) => instances = list,
                Err(e) => checks.push(fail(
                    "jira instances",
                    e.to_string(),
                    "run `jira-teams-bridge migrate`",
                )),
            }
        }
    }

    let http = match OutboundHttp::from_settings(
        &settings.outbound,
        RetryPolicy {
            max_tries: 1,
            ..Default::default()
        },
    ) {
        Ok(h) => h,
        Err(e) => {
            checks.push(fail(
                "outbound http",
                format!("{e:#}"),
                "fix [outbound] (proxy URL, ca_file)",
            ));
            return checks;
        }
    };

    // each Jira instance
    if instances.is_empty() {
        checks.push(skipped("jira", "no instance registered"));
    }
    for i in instances.iter().filter(|i| i.enabled) {
        let name = format!("jira {}", i.public_id);
        let url = format!("{}/rest/api/2/serverInfo", i.base_url);
        match http.send("jira", |c| c.get(&url)).await {
            Ok(res) if res.status().is_success() => {
                let body: serde_json::Value = res.json().await.unwrap_or_default();
                let version = body
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("unknown version")
                    .to_owned();
                checks.push(ok(&name, format!("{} answers: Jira {version}", i.base_url)));
            }
            Ok(res) => checks.push(fail(
                &name,
                format!("{} answered HTTP {}", i.base_url, res.status().as_u16()),
                "check the base URL (context path such as /jira) in the admin UI",
            )),
            Err(e) => checks.push(fail(
                &name,
                e.to_string(),
                "check DNS, firewall and outbound.proxy / no_proxy for this host",
            )),
        }
    }

    let redirect = match settings.internal_addr() {
        Ok(addr) => format!("{}/auth/jira/callback", settings.internal_base_url(addr)),
        Err(_) => format!(
            "{}/auth/jira/callback",
            settings.listen.internal_url.trim_end_matches('/')
        ),
    };
    for i in instances.iter().filter(|i| i.enabled) {
        checks.push(jira_oauth::check(&http, i, &redirect).await);
    }
    checks.push(remote_link_check(settings, &instances));

    match admin_registration {
        // entered on the admin UI's Microsoft page (nothing pinned in the config)
        Some(Ok(Some(registration))) => {
            microsoft_token_and_graph(settings, &http, registration, &mut checks).await;
        }
        Some(Ok(None)) => {
            checks.push(skipped("microsoft token", "no Microsoft app registration (admin UI › Microsoft, or [microsoft] in the config)"));
            checks.push(skipped("graph", "no Microsoft app registration"));
        }
        Some(Err(check)) => {
            checks.push(check);
            checks.push(skipped(
                "graph",
                "the Microsoft app registration cannot be used",
            ));
        }
        None => microsoft_checks(settings, &http, &mut checks).await,
    }

    if settings.listen.public_url.is_empty() {
        checks.push(skipped("public bot URL", "listen.public_url not set"));
    } else {
        let url = format!(
            "{}/bot/messages",
            settings.listen.public_url.trim_end_matches('/')
        );
        match http.send("bot", |c| c.post(&url).json(&serde_json::json!({}))).await {
            Ok(res) => checks.push(ok("public bot URL", format!("{url} answers (HTTP {})", res.status().as_u16()))),
            Err(e) => checks.push(fail("public bot URL", e.to_string(), "Microsoft must reach listen.public_url over https: check DNS, TLS and the reverse proxy")),
        }
    }
    checks
}

fn clock_check(conn: &mut PgConnection) -> Check {
    #[derive(diesel::QueryableByName)]
    struct Now {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        now: chrono::DateTime<chrono::Utc>,
    }
    use diesel::RunQueryDsl;
    match diesel::sql_query("SELECT now() AS now").get_result::<Now>(conn) {
        Ok(n) => {
            let skew = (chrono::Utc::now() - n.now).num_milliseconds().abs();
            if skew > 30_000 {
                fail(
                    "clock",
                    format!("this host and PostgreSQL differ by {} s", skew / 1000),
                    "synchronise the clocks (chrony / systemd-timesyncd): Jira tokens allow only 60 s of skew",
                )
            } else {
                ok("clock", format!("within {skew} ms of PostgreSQL"))
            }
        }
        Err(e) => fail("clock", e.to_string(), "check the database connection"),
    }
}

async fn microsoft_checks(settings: &Settings, http: &OutboundHttp, checks: &mut Vec<Check>) {
    let m = &settings.microsoft;
    let certificate = match m.client_certificate() {
        Ok(c) => c,
        Err(e) => {
            checks.push(fail(
                "microsoft token",
                e.to_string(),
                "point microsoft.client_certificate_file at a readable PEM with the certificate and its private key",
            ));
            return;
        }
    };
    let secret = match (&m.client_secret, m.client_secret_file.as_str()) {
        (Some(s), _) => Some(s.clone()),
        (None, "") => None,
        (None, file) => match std::fs::read_to_string(file) {
            Ok(s) => Some(SecretString::from(s.trim().to_owned())),
            Err(e) => {
                checks.push(fail(
                    "microsoft token",
                    format!("cannot read microsoft.client_secret_file: {e}"),
                    "make the file readable by the service user",
                ));
                return;
            }
        },
    };
    let credential = certificate
        .map(ClientCredential::Certificate)
        .or(secret.map(ClientCredential::Secret));
    let (Some(credential), false, false) =
        (credential, m.tenant_id.is_empty(), m.client_id.is_empty())
    else {
        checks.push(skipped(
            "microsoft token",
            "microsoft.tenant_id, client_id and a client secret or certificate are not all set",
        ));
        checks.push(skipped("graph", "no Microsoft app registration"));
        return;
    };
    let registration = Registration {
        cloud: m.cloud.clone(),
        tenant_id: m.tenant_id.clone(),
        client_id: m.client_id.clone(),
        credential,
    };
    microsoft_token_and_graph(settings, http, registration, checks).await;
}

/// The app registration doctor checks: from the config or from the admin UI.
struct Registration {
    cloud: String,
    tenant_id: String,
    client_id: String,
    credential: ClientCredential,
}

/// The registration entered on the admin UI, its secret read through the audited vault.
fn registration_from_admin(
    conn: &mut PgConnection,
    vault: Option<&Vault>,
) -> Result<Option<Registration>, Check> {
    use crate::db::models::audit::Actor;
    use crate::db::models::microsoft_app::MicrosoftApp;
    use crate::db::models::secret::{
        self, MICROSOFT_CLIENT_CERTIFICATE, MICROSOFT_CLIENT_SECRET, ReadContext,
    };
    let fail_with = |detail: String, fix: &str| fail("microsoft token", detail, fix);
    let row = match MicrosoftApp::get(conn) {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(None),
        Err(e) => return Err(fail_with(e.to_string(), "run `jira-teams-bridge migrate`")),
    };
    let column = match (&row.client_certificate, &row.client_secret) {
        (Some(_), _) => MICROSOFT_CLIENT_CERTIFICATE,
        (None, Some(_)) => MICROSOFT_CLIENT_SECRET,
        (None, None) => {
            return Err(fail_with(
                "the registration on the admin UI has neither a client secret nor a certificate"
                    .into(),
                "enter one on the admin UI's Microsoft page",
            ));
        }
    };
    let Some(vault) = vault else {
        return Err(fail_with(
            "the client secret cannot be decrypted without the master key".into(),
            "fix the master key first (see above)",
        ));
    };
    let ctx = ReadContext {
        actor: &Actor::Cli("doctor".into()),
        purpose: "check the Microsoft app registration",
        label: "microsoft app",
    };
    let value = secret::read(conn, vault, column, row.id, &ctx).map_err(|e| {
        fail_with(
            format!("the stored client secret cannot be read: {e}"),
            "check that this is the key the secrets were stored with; otherwise enter the secret again on the admin UI",
        )
    })?;
    let credential = if column == MICROSOFT_CLIENT_CERTIFICATE {
        ClientCredential::from_pem(value.expose_secret().as_bytes()).map_err(|e| {
            fail_with(
                format!("the stored client certificate: {e}"),
                "upload the certificate again on the admin UI's Microsoft page",
            )
        })?
    } else {
        ClientCredential::Secret(value)
    };
    Ok(Some(Registration {
        cloud: row.cloud,
        tenant_id: row.tenant_id,
        client_id: row.client_id.to_string(),
        credential,
    }))
}

/// An app-only token for Graph, then Graph itself, through the outbound stack (proxy included).
async fn microsoft_token_and_graph(
    settings: &Settings,
    http: &OutboundHttp,
    r: Registration,
    checks: &mut Vec<Check>,
) {
    let m = &settings.microsoft;
    let endpoints = Cloud::parse(&r.cloud)
        .unwrap_or(Cloud::Global)
        .endpoints()
        .with_overrides(
            &m.login_url,
            &m.graph_url,
            &m.bot_openid_metadata_url,
            &m.bot_token_url,
            &m.service_url_hosts,
        );
    let tokens = AppTokens::new(http.clone(), &endpoints.login, &r.client_id, r.credential);
    match tokens.token(&r.tenant_id, &endpoints.graph_scope).await {
        Ok(_) => checks.push(ok("microsoft token", format!("app-only token for {} acquired", endpoints.graph))),
        Err(e) if e.is_configuration() => checks.push(fail("microsoft token", e.to_string(), "check the tenant, client id, the client secret or certificate (expired? uploaded to the app?) and the cloud, in the config or on the admin UI's Microsoft page")),
        Err(e) => checks.push(fail("microsoft token", e.to_string(), "check outbound.proxy and that the login host is reachable")),
    }
    let graph = format!("{}/v1.0/", endpoints.graph);
    match http
        .send("graph", |c| c.get(&graph).timeout(Duration::from_secs(10)))
        .await
    {
        Ok(res) => checks.push(ok(
            "graph",
            format!(
                "{} reachable (HTTP {})",
                endpoints.graph,
                res.status().as_u16()
            ),
        )),
        Err(e) => checks.push(fail(
            "graph",
            e.to_string(),
            "check outbound.proxy / no_proxy and the corporate CA (outbound.ca_file)",
        )),
    }
}

/// Human-readable report.
pub fn render_text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
            Status::Warn => "warn",
        };
        out.push_str(&format!("[{mark}] {}: {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("       fix: {fix}\n"));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    out.push_str(&if failed == 0 {
        "all checks passed\n".to_owned()
    } else {
        format!("{failed} check(s) failed\n")
    });
    out
}
