//! A new site with no Jira plugin: with no `/api/v1` call at all, the admin pages, the Jira
//! user pages and the bot are driven until every entity of the seed has at least one row. The
//! table of how each got its row is printed (and quoted in the README).

use diesel::prelude::*;
use serde_json::json;

use crate::fakes;
use crate::support::bot::bot_world;
use crate::support::issue_pages::{chat_path, get, issue_path, post};
use crate::support::jira_user::{continue_url, csrf_of, post_form, signed_in};
use crate::support::jwt::BOT_ID;
use crate::support::wait::eventually;
use crate::support::world::{ALICE_KEY, ALICE_OID, BOB_KEY, BOB_OID, ISSUE, World, follow};

/// Links `key` to Microsoft from their account page (*Link Microsoft account*).
async fn link_from_account_page(w: &World, key: &str, oid: &str) {
    let b = signed_in(w, key).await;
    let me = format!("/jira/{}/me", w.jira_app.public_id);
    let csrf = csrf_of(w, &b, &me).await;
    let res = post_form(w, &b, &format!("{me}/link-microsoft"), &[("csrf", &csrf)]).await;
    let to = continue_url(res).await;
    w.entra.sign_in_as(oid);
    w.jira.sign_in_as(key);
    let (done, seen) = follow(&b, &to).await;
    assert_eq!(done.status(), 200, "{seen:?}");
    let text = done.text().await.unwrap();
    assert!(
        text.contains("Your Jira and Microsoft accounts are linked."),
        "{text}"
    );
}

fn rows(w: &World, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<N>(&mut w.conn())
        .unwrap()
        .n
}

#[actix_web::test]
async fn without_a_plugin_admin_pages_jira_pages_and_the_bot_fill_every_seed_table() {
    // the admin's set-up (setup wizard, instance, Microsoft registration, OAuth link) is all
    // done on the admin pages by the world
    let s = bot_world().await;
    let w = &s.w;
    w.jira.add_issue(ISSUE, "ABC-1", "Printer on fire", &[]);
    let mut how: Vec<(&str, &str)> = vec![(
        "jira_instance",
        "admin: Jira instances → Register (the setup wizard before it)",
    )];

    // Alice installs the bot for herself in Teams: the bot's place and her one welcome
    let personal = json!({
        "type": "installationUpdate", "action": "add", "channelId": "msteams",
        "serviceUrl": s.bot.service_url(),
        "from": {"id": "29:alice-teams-id", "aadObjectId": ALICE_OID},
        "recipient": {"id": format!("28:{BOT_ID}")},
        "conversation": {"id": "a:1personal-alice", "conversationType": "personal", "tenantId": fakes::entra::TENANT_ID},
    });
    assert_eq!(s.post_signed(&personal).await.status(), 200);
    eventually("the welcome in Alice's 1:1 chat", 20, || {
        !s.bot.received_for("a:1personal-alice").is_empty()
    })
    .await;
    how.push((
        "bot_membership",
        "Teams: Alice installs the app for herself (and the group chat she attaches)",
    ));
    how.push((
        "teams_user_setting",
        "bot: the welcome sent once (botWelcomeSent)",
    ));

    // Alice and Bob link their accounts from the Jira user pages
    link_from_account_page(w, ALICE_KEY, ALICE_OID).await;
    link_from_account_page(w, BOB_KEY, BOB_OID).await;
    how.push((
        "user_mapping",
        "Jira pages: account page → Link Microsoft account",
    ));
    how.push((
        "access_token",
        "the same sign-ins (Microsoft and Jira tokens, sealed)",
    ));

    // Alice ties an existing group chat to the issue from Teams
    let group = "19:walkgroupchat0123456789abcdef@thread.v2";
    w.graph
        .add_group_chat(group, &[ALICE_OID, BOB_OID], Some("Printer war room"));
    let mut attach = s.activity_fixture("group_chat_attach");
    attach["id"] = json!("walk-attach-1");
    attach["text"] = json!("<at>Jira</at> attach ABC-1");
    attach["from"] = json!({"id": "29:alice-teams-id", "aadObjectId": ALICE_OID});
    attach["conversation"]["id"] = json!(group);
    assert_eq!(s.post_signed(&attach).await.status(), 200);
    eventually("the answer to attach in the group chat", 20, || {
        s.bot
            .received_for(group)
            .iter()
            .any(|a| a.to_string().contains("linked to ABC-1"))
    })
    .await;
    how.push((
        "issue_chat",
        "Teams: attach ABC-1 in a group chat; Jira pages: Start a Teams chat",
    ));

    // Alice starts a chat with Bob from the issue page and shares it
    let alice = signed_in(w, ALICE_KEY).await;
    let started = post(
        w,
        &alice,
        &format!("{}/start", issue_path(w, ISSUE)),
        &[("member", BOB_KEY)],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.html);
    let chat_page = started.location.clone().unwrap();
    let link: uuid::Uuid = chat_page.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(chat_page, chat_path(w, link));
    let shared = post(
        w,
        &alice,
        &format!("{chat_page}/share"),
        &[("to", "shared")],
    )
    .await;
    assert_eq!(shared.status, 303, "{}", shared.html);
    let page = get(w, &alice, &chat_page).await;
    assert!(page.html.contains("Shared with everyone"), "{}", page.html);
    how.push(("shared_chat_access", "Jira pages: chat page → Share"));
    eventually("the chat's remote link in the Jira issue", 20, || {
        !w.jira.remote_links(ISSUE).is_empty()
    })
    .await;

    // the admin sets what only the Jira plugin could set before
    let res = w
        .app
        .post_form(
            &format!("/admin/instances/{}/settings/appearance", w.instance_id),
            &[
                ("view_location", "issueSidebar"),
                ("quick_create_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    how.push((
        "instance_setting",
        "admin: Jira instances → Settings → Appearance",
    ));
    let instance = w.instance_id.to_string();
    let res = w
        .app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", instance.as_str()),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    how.push(("jsm_portal_app", "admin: JSM portal apps → Add"));

    how.push((
        "secret_access_audit",
        "every sealed secret read on the way (tokens, keys)",
    ));

    let mut missing = Vec::new();
    eprintln!("\n| entity | how it got its first row | rows |\n|---|---|---|");
    for (table, way) in &how {
        let n = rows(w, table);
        eprintln!("| `{table}` | {way} | {n} |");
        if n == 0 {
            missing.push(*table);
        }
    }
    assert!(missing.is_empty(), "tables still empty: {missing:?}");
    assert_eq!(
        rows(w, "issue_chat"),
        2,
        "one chat linked from Teams, one from the issue page"
    );
    let seed: Vec<&str> = how.iter().map(|(t, _)| *t).collect();
    assert_eq!(seed.len(), 10, "the seed's ten entities: {seed:?}");

    // and not one request reached the plugin's API
    let metrics = w.app.get("/metrics").await.text().await.unwrap();
    let api: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("route=\"/api/"))
        .collect();
    assert!(api.is_empty(), "API requests: {api:?}");
}
