//! The one world most tests start from: the appliance wired to the Entra ID, Graph and Jira DC
//! doubles, set up through its admin pages, with Alice, Bob and Carol known to both sides;
//! and what tests do in it (link users, call the API as a Jira user, link chats to issues).

use actix_web::web;
use diesel::prelude::*;
use jira_teams_bridge::db::models::jira_instance::JiraInstance;
use serde_json::{Value, json};
use uuid::Uuid;

use super::app::{TestApp, location, spawn_app_with};
use super::jwt::{JiraApp, call};
use crate::fakes::{self, entra::Entra, graph::Graph};

pub const ALICE_KEY: &str = "JIRAUSER10100";
pub const ALICE_OID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
pub const BOB_KEY: &str = "JIRAUSER10200";
pub const BOB_OID: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
pub const CAROL_KEY: &str = "JIRAUSER10300";
pub const CAROL_OID: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";
pub const CATALOG_ID: &str = "e3f6b5c1-1111-4d2c-9a6b-0f6a8f0c1d2e";

/// The appliance wired to fake Entra ID, Graph and Jira DC, with a registered instance, the
/// Microsoft registration and the Jira OAuth client entered through the admin pages.
pub struct World {
    pub app: TestApp,
    pub jira_app: JiraApp,
    pub instance_id: Uuid,
    pub entra: web::Data<Entra>,
    pub graph: web::Data<Graph>,
    pub jira: web::Data<fakes::jira::Jira>,
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(tweak: impl FnOnce(&mut jira_teams_bridge::config::Settings)) -> World {
    let (_, entra) = fakes::entra::start(3600);
    let (_, graph) = fakes::graph::start(entra.clone());
    world_with_fakes(entra, graph, tweak).await
}

/// A world around given Entra and Graph doubles (e.g. a Graph on TLS).
pub async fn world_with_fakes(
    entra: web::Data<Entra>,
    graph: web::Data<Graph>,
    tweak: impl FnOnce(&mut jira_teams_bridge::config::Settings),
) -> World {
    let (jira_base, jira) = fakes::jira::start("/jira");
    let (login, graph_root) = (entra.base.clone(), graph.base.clone());
    let app = spawn_app_with(move |s| {
        s.microsoft.login_url = login;
        s.microsoft.graph_url = graph_root;
        tweak(s);
    })
    .await;
    app.complete_setup().await;
    let (public_id, secret) = app.register_instance(&jira_base).await;
    let mut conn = app.db.conn();
    let instance_id = JiraInstance::find_by_public_id(&mut conn, &public_id)
        .unwrap()
        .unwrap()
        .id;
    let res = save_microsoft(
        &app,
        "global",
        fakes::entra::CLIENT_SECRET,
        fakes::entra::CLIENT_ID,
        CATALOG_ID,
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post_form(
            &format!("/admin/instances/{instance_id}/oauth"),
            &[
                ("client_id", fakes::jira::CLIENT_ID),
                ("client_secret", fakes::jira::CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    for (oid, upn, name) in [
        (ALICE_OID, "alice@contoso.example", "Alice Adams"),
        (BOB_OID, "bob@contoso.example", "Bob Brown"),
        (CAROL_OID, "carol@contoso.example", "Carol Clark"),
    ] {
        entra.add_user(oid, upn, name);
    }
    for (key, name) in [(ALICE_KEY, "alice"), (BOB_KEY, "bob"), (CAROL_KEY, "carol")] {
        jira.add_user(key, name, &format!("{name} (Jira)"));
    }
    entra.redirect_uris.lock().unwrap().push(format!(
        "{}/auth/microsoft/callback",
        app.state.internal_url
    ));
    jira.set_redirect_uri(&format!("{}/auth/jira/callback", app.state.internal_url));
    graph
        .catalog_apps
        .lock()
        .unwrap()
        .insert(CATALOG_ID.to_owned());
    World {
        app,
        jira_app: JiraApp { public_id, secret },
        instance_id,
        entra,
        graph,
        jira,
    }
}

/// A browser of its own: cookies, no automatic redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows redirects by hand until a page answers; returns it and the URLs passed.
pub async fn follow(browser: &reqwest::Client, url: &str) -> (reqwest::Response, Vec<String>) {
    let mut seen = vec![url.to_owned()];
    let mut res = browser.get(url).send().await.unwrap();
    while res.status().is_redirection() && seen.len() < 10 {
        // a relative Location is resolved against the URL it answered, as browsers do
        let next = res
            .url()
            .join(&location(&res))
            .map(|u| u.to_string())
            .unwrap();
        seen.push(next.clone());
        res = browser.get(&next).send().await.unwrap();
    }
    (res, seen)
}

impl World {
    /// `GET /api/v1/me` as a Jira user.
    pub async fn me(&self, key: &str) -> Value {
        let res = call(&self.app, &self.jira_app, "GET", "/api/v1/me", key, None).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The whole linking dance for one user; returns the final page.
    pub async fn link(&self, key: &str, oid: &str) -> (u16, String) {
        let url = self.me(key).await["signInUrl"]
            .as_str()
            .expect("an unlinked user gets a sign-in URL")
            .to_owned();
        self.entra.sign_in_as(oid);
        self.jira.sign_in_as(key);
        let (res, _) = follow(&browser(), &url).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub fn conn(&self) -> PgConnection {
        self.app.db.conn()
    }

    /// The Graph page `fixtures/graph/<name>.json` (see the README there for the real shape it
    /// stands for) for chat `chat`, its placeholders filled in: `{{CHAT_ID}}`, `{{BOT_ID}}` (the
    /// bot's app id), `{{BOB_OID}}` and `{{ALICE_OID}}`.
    pub fn graph_page(&self, name: &str, chat: &str) -> Value {
        let raw = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/integration/fixtures/graph")
                .join(format!("{name}.json")),
        )
        .unwrap();
        let filled = raw
            .replace("{{CHAT_ID}}", chat)
            .replace("{{BOT_ID}}", super::jwt::BOT_ID)
            .replace("{{BOB_OID}}", BOB_OID)
            .replace("{{ALICE_OID}}", ALICE_OID);
        assert!(!filled.contains("{{"), "{name}: a placeholder is left");
        serde_json::from_str(&filled).unwrap()
    }
}

/// Expires the user's stored Microsoft token so the next use refreshes it.
pub fn expire_microsoft_token(w: &World) {
    let mut conn = w.conn();
    diesel::sql_query("UPDATE access_token SET expires_at = now() - interval '1 minute' WHERE kind = 'microsoft_user'")
        .execute(&mut conn)
        .unwrap();
}

/// The issue most tests talk about: ABC-1.
pub const ISSUE: u64 = 10045;

/// A world with issue ABC-1 and Alice and Bob linked.
pub async fn linked_world() -> World {
    let w = world().await;
    link_alice_and_bob(&w).await;
    w
}

/// Adds issue ABC-1 to Jira and links Alice and Bob.
pub async fn link_alice_and_bob(w: &World) {
    w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    assert_eq!(w.link(BOB_KEY, BOB_OID).await.0, 200);
}

/// A signed API call as Jira user `user`: (status, JSON body or null).
pub async fn api(
    w: &World,
    method: &str,
    path: &str,
    user: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let res = call(&w.app, &w.jira_app, method, path, user, body).await;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Alice creates a chat for ABC-1 with Bob and Carol's UPN; returns its id.
pub async fn create_chat(w: &World) -> String {
    let (status, body) = api(
        w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats/create"),
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}, {"upn": "carol@contoso.example"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["chatId"].as_str().unwrap().to_owned()
}

/// Alice creates a chat for ABC-1 with Bob; returns its id.
pub async fn create_chat_with_bob(w: &World) -> String {
    let (status, body) = api(
        w,
        "POST",
        &format!("/api/v1/issues/{ISSUE}/chats/create"),
        ALICE_KEY,
        Some(json!({"members": [{"jiraUser": BOB_KEY}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["chatId"].as_str().unwrap().to_owned()
}

/// The relay path of a chat's messages.
pub fn messages_path(chat: &str) -> String {
    format!("/api/v1/issues/{ISSUE}/chats/{chat}/messages")
}

/// Records that the bot is installed in group chat `chat` of `tenant` (what Teams' installation
/// event would have stored), its Bot Connector at `service_url`.
pub fn install_bot(conn: &mut PgConnection, chat: &str, tenant: &str, service_url: &str) {
    diesel::sql_query(
        "INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) \
         VALUES (gen_random_uuid(), $1, $2::uuid, 'groupChat', $3, 'installationAdded')",
    )
    .bind::<diesel::sql_types::Text, _>(chat)
    .bind::<diesel::sql_types::Text, _>(tenant)
    .bind::<diesel::sql_types::Text, _>(service_url)
    .execute(conn)
    .unwrap();
}

/// Links Teams chat `chat` to issue `issue` of `instance`, created by Alice.
pub fn link_issue_chat(conn: &mut PgConnection, instance: Uuid, issue: u64, chat: &str) {
    diesel::sql_query(
        "INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) \
         VALUES (gen_random_uuid(), $1, $2, 'alice', $3)",
    )
    .bind::<diesel::sql_types::Uuid, _>(instance)
    .bind::<diesel::sql_types::BigInt, _>(issue as i64)
    .bind::<diesel::sql_types::Text, _>(chat)
    .execute(conn)
    .unwrap();
}

/// The id of the instance with `public_id`.
pub fn instance_id(conn: &mut PgConnection, public_id: &str) -> Uuid {
    jira_teams_bridge::db::models::jira_instance::JiraInstance::find_by_public_id(conn, public_id)
        .unwrap()
        .unwrap()
        .id
}

/// Saves the Microsoft registration on the admin page: the Entra ID double's tenant and client,
/// in `cloud`, with `client_secret` (empty: keep the stored one), `bot_app_id` and the Teams app's
/// catalog id.
pub async fn save_microsoft(
    app: &TestApp,
    cloud: &str,
    client_secret: &str,
    bot_app_id: &str,
    catalog_id: &str,
) -> reqwest::Response {
    app.post_form(
        "/admin/microsoft",
        &[
            ("cloud", cloud),
            ("tenant_id", fakes::entra::TENANT_ID),
            ("client_id", fakes::entra::CLIENT_ID),
            ("client_secret", client_secret),
            ("bot_app_id", bot_app_id),
            ("teams_app_catalog_id", catalog_id),
        ],
    )
    .await
}
