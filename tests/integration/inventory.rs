//! The dashboard and the data inventory show every stored entity of the seed, live.

use crate::support::app::spawn_app;
use diesel::prelude::*;

#[actix_web::test]
async fn the_inventory_shows_the_seed_rows_with_secrets_shortened() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, secret) = app
        .register_instance("https://servicedesk.yourcompany.com")
        .await;
    let mut conn = app.db.conn();
    let id: uuid::Uuid = jira_teams_bridge::db::schema::jira_instance::table
        .select(jira_teams_bridge::db::schema::jira_instance::id)
        .first(&mut conn)
        .unwrap();
    let seed = format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) VALUES ('00000000-0000-4000-8000-0000000000a1', '{id}', 'bc62ee3e-978f-460c-b848-f1c878363d64', '0e3419f7-4c4d-47e7-b98a-7b9b9de02b80', '0c60ce18-654d-441a-badf-14404098f38e');
         INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES ('00000000-0000-4000-8000-0000000000c1', '{id}', 10045, '5f344aaa58ea7b00705b8bb2', '19:91571ee8ad174aefaccd2e4605d87a24@thread.v2');
         INSERT INTO issue_chat (id, jira_instance_id, issue_id, created_by, chat_id) VALUES ('00000000-0000-4000-8000-0000000000c2', '{id}', 123123, '5f344aaa58ea7b00705b8bb2', '19:cae084d1e543a2b@thread.v2');
         INSERT INTO shared_chat_access (id, issue_chat_id, restrictions, set_by) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c2', '{{\"publicAccess\": \"share\"}}', '5f344aaa58ea7b00705b8bb2');
         INSERT INTO bot_membership (id, conversation_id, tenant_id, scope, service_url, status) VALUES (gen_random_uuid(), '19:a050c65057f689@thread.skype', '0e3419f7-4c4d-47e7-b98a-7b9b9de02b80', 'team', 'https://smba.trafficmanager.net/amer/', 'teamMemberAdded');
         INSERT INTO instance_setting (id, jira_instance_id, name, value) VALUES (gen_random_uuid(), '{id}', 'appearance', '{{\"viewLocation\": \"issueContent\", \"quickCreateEnabled\": false}}');
         INSERT INTO jsm_portal_app (id, jira_instance_id, settings) VALUES ('69000be7-4659-4659-900e-3cebf257ec5a', '{id}', '{{\"icon\": \"icon3\", \"deskIds\": [\"14\"], \"tabName\": \"<b>Helpdesk</b>\"}}');
         INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ('29:1sNK5nFAqk9wy-1FlQm', '{{\"botWelcomeSent\": true}}');"
    );
    for stmt in seed.split(";\n") {
        diesel::sql_query(stmt).execute(&mut conn).unwrap();
    }
    let tok = uuid::Uuid::new_v4();
    let sealed = jira_teams_bridge::db::models::secret::seal(
        &app.state.vault,
        jira_teams_bridge::db::models::secret::ACCESS_TOKEN,
        tok,
        "live-access-token-value",
    )
    .unwrap();
    diesel::sql_query(format!("INSERT INTO access_token (id, kind, jira_instance_id, user_mapping_id, token) VALUES ('{tok}', 'jira_user', '{id}', '00000000-0000-4000-8000-0000000000a1', decode('{}', 'hex'))", hex::encode(sealed)))
        .execute(&mut conn)
        .unwrap();

    let expect = [
        (
            "user_mapping",
            vec![
                "https://servicedesk.yourcompany.com",
                "bc62ee3e-978f-460c-b848-f1c878363d64",
                "0e3419f7-4c4d-47e7-b98a-7b9b9de02b80",
                "0c60ce18-654d-441a-badf-14404098f38e",
            ],
        ),
        (
            "issue_chat",
            vec![
                "10045",
                "5f344aaa58ea7b00705b8bb2",
                "19:91571ee8ad174aefaccd2e4605d87a24@thread.v2",
            ],
        ),
        (
            "shared_chat_access",
            vec!["123123", "19:cae084d1e543a2b@thread.v2", "publicAccess"],
        ),
        (
            "jira_instance",
            vec!["https://servicedesk.yourcompany.com", &public_id],
        ),
        (
            "bot_membership",
            vec![
                "19:a050c65057f689@thread.skype",
                "https://smba.trafficmanager.net/amer/",
                "teamMemberAdded",
            ],
        ),
        (
            "instance_setting",
            vec!["appearance", "viewLocation", "issueContent"],
        ),
        (
            "jsm_portal_app",
            vec!["69000be7-4659-4659-900e-3cebf257ec5a", "icon3", "Helpdesk"],
        ),
        (
            "teams_user_setting",
            vec!["29:1sNK5nFAqk9wy-1FlQm", "botWelcomeSent"],
        ),
        ("access_token", vec!["jira_user", "encrypted (key v1)"]),
    ];
    for (entity, needles) in expect {
        let res = app.get(&format!("/admin/data/{entity}")).await;
        assert_eq!(res.status(), 200, "{entity}");
        let html = res.text().await.unwrap();
        for n in needles {
            assert!(html.contains(n), "{entity} page lacks {n}");
        }
        assert!(!html.contains(&secret), "{entity} shows a secret");
        assert!(
            !html.contains("live-access-token-value"),
            "{entity} shows a token"
        );
        assert!(
            !html.contains("<b>Helpdesk</b>"),
            "{entity} renders stored HTML"
        );
    }
    let index = app.get("/admin/data").await.text().await.unwrap();
    assert!(index.contains("Teams bot membership"));
    let dash = app.get("/admin").await.text().await.unwrap();
    assert!(dash.contains("connected"));
    assert!(
        dash.contains("<a href=\"/admin/data/issue_chat\">Jira issue / Teams chat</a></td><td class=\"num\">2</td>"),
        "issue_chat count on the dashboard"
    );
    assert_eq!(
        app.get("/admin/data/admin_user").await.status(),
        404,
        "not an inventory entity"
    );
}

#[actix_web::test]
async fn inventory_tables_are_paged() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let mut conn = app.db.conn();
    // one statement: every row has the same updated_at, so the pages are ordered by the key
    diesel::sql_query("INSERT INTO teams_user_setting (teams_user_id, settings) SELECT '29:user-' || lpad(g::text, 3, '0'), '{}' FROM generate_series(1, 120) g").execute(&mut conn).unwrap();
    let get = |path: String| {
        let app = &app;
        async move { app.get(&path).await.text().await.unwrap() }
    };
    let next = |html: &str| {
        let end = html.find("\" rel=\"next\"")?;
        let start = html[..end].rfind("href=\"")? + 6;
        Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
    };
    let p1 = get("/admin/data/teams_user_setting".into()).await;
    assert!(p1.contains("120 rows"));
    assert_eq!(p1.matches("29:user-").count(), 50);
    assert!(p1.contains("29:user-120") && !p1.contains("rel=\"prev\""));
    let p2 = get(next(&p1).unwrap()).await;
    assert_eq!(p2.matches("29:user-").count(), 50);
    assert!(p2.contains("29:user-070") && p2.contains("rel=\"prev\""));
    let p3 = get(next(&p2).unwrap()).await;
    assert_eq!(p3.matches("29:user-").count(), 20);
    assert!(p3.contains("29:user-001") && next(&p3).is_none());
    let last = get("/admin/data/teams_user_setting?at=last".into()).await;
    assert_eq!(last.matches("29:user-").count(), 50);
    assert!(last.contains("29:user-050") && last.contains("29:user-001"));
    let old_link = get("/admin/data/teams_user_setting?page=3".into()).await;
    assert!(
        old_link.contains("29:user-120"),
        "an old page number shows the first page"
    );
    assert_eq!(
        app.get("/admin/data/teams_user_setting?after=abc")
            .await
            .status(),
        400
    );
}

#[actix_web::test]
async fn bad_addresses_in_the_admin_ui_get_html_error_pages() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let res = app.get("/admin/instances/not-a-guid/delete").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let res = app.get("/admin/data/teams_user_setting?after=abc").await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("This page link is not valid"), "{html}");
}
