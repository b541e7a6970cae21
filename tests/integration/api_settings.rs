//! Instance settings, JSM portal apps and Teams user settings through the signed API.

use crate::support::jwt::{JiraApp, app_with_instance, call};
use diesel::prelude::*;
use serde_json::{Value, json};

const USER: &str = "JIRAUSER10100";

#[actix_web::test]
async fn the_appearance_setting_has_a_default_and_keeps_what_is_put() {
    let (app, jira) = app_with_instance().await;
    let body: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/settings/appearance",
        USER,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        body["value"],
        json!({"viewLocation": "issueContent", "quickCreateEnabled": false})
    );
    assert!(body["updatedAt"].is_null());
    let seed = json!({"viewLocation": "issueSidebar", "quickCreateEnabled": true});
    let res = call(
        &app,
        &jira,
        "PUT",
        "/api/v1/settings/appearance",
        USER,
        Some(seed.clone()),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/settings/appearance",
        USER,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["value"], seed);
    assert_eq!(body["updatedBy"], USER);
}

#[actix_web::test]
async fn unknown_settings_and_bad_values_are_refused_and_change_nothing() {
    let (app, jira) = app_with_instance().await;
    let res = call(
        &app,
        &jira,
        "PUT",
        "/api/v1/settings/colour",
        USER,
        Some(json!({"x": 1})),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "unknown_setting"
    );
    assert_eq!(
        call(&app, &jira, "GET", "/api/v1/settings/colour", USER, None)
            .await
            .status(),
        404
    );
    for bad in [
        json!({"viewLocation": "moon", "quickCreateEnabled": true}),
        json!({"viewLocation": "issueContent"}),
        json!([1]),
        json!({"viewLocation": "issueContent", "quickCreateEnabled": true, "extra": 1}),
    ] {
        let res = call(
            &app,
            &jira,
            "PUT",
            "/api/v1/settings/appearance",
            USER,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(res.status(), 422, "{bad}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "invalid_setting"
        );
    }
    let mut conn = app.db.conn();
    let n: i64 = jira_teams_bridge::db::schema::instance_setting::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn portal_apps_are_created_listed_replaced_and_deleted_per_instance() {
    let (app, jira) = app_with_instance().await;
    let id = "69000be7-4659-4659-900e-3cebf257ec5a";
    let path = format!("/api/v1/jsm/portal-apps/{id}");
    let seed = json!({"icon": "icon3", "deskIds": ["14"], "tabName": "Helpdesk"});
    assert_eq!(
        call(&app, &jira, "PUT", &path, USER, Some(seed.clone()))
            .await
            .status(),
        201
    );
    let got: Value = call(&app, &jira, "GET", &path, USER, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["settings"], seed);
    let changed = json!({"icon": "icon4", "deskIds": ["14", "15"], "tabName": "IT help"});
    assert_eq!(
        call(&app, &jira, "PUT", &path, USER, Some(changed.clone()))
            .await
            .status(),
        200
    );
    let list: Value = call(&app, &jira, "GET", "/api/v1/jsm/portal-apps", USER, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["settings"], changed);
    // a second instance neither sees nor takes the first one's portal app
    let (p2, s2) = app
        .register_instance("https://servicedesk.example.com/jira")
        .await;
    let other = JiraApp {
        public_id: p2,
        secret: s2,
    };
    assert_eq!(
        call(&app, &other, "GET", &path, USER, None).await.status(),
        404
    );
    let list: Value = call(&app, &other, "GET", "/api/v1/jsm/portal-apps", USER, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(
        call(&app, &other, "PUT", &path, USER, Some(seed.clone()))
            .await
            .status(),
        409
    );
    assert_eq!(
        call(&app, &other, "DELETE", &path, USER, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        call(&app, &jira, "DELETE", &path, USER, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        call(&app, &jira, "GET", &path, USER, None).await.status(),
        404
    );
}

#[actix_web::test]
async fn bad_portal_apps_are_refused_with_the_reason() {
    let (app, jira) = app_with_instance().await;
    let path = "/api/v1/jsm/portal-apps/69000be7-4659-4659-900e-3cebf257ec5a";
    for (bad, why) in [
        (
            json!({"icon": "skull", "deskIds": ["14"], "tabName": "Helpdesk"}),
            "icon",
        ),
        (
            json!({"icon": "icon3", "deskIds": ["x"], "tabName": "Helpdesk"}),
            "deskIds",
        ),
        (
            json!({"icon": "icon3", "deskIds": ["14"], "tabName": ""}),
            "tabName",
        ),
    ] {
        let res = call(&app, &jira, "PUT", path, USER, Some(bad)).await;
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_portal_app");
        assert!(body["detail"].as_str().unwrap().contains(why), "{body}");
    }
    let res = call(
        &app,
        &jira,
        "PUT",
        "/api/v1/jsm/portal-apps/6900be7-4659",
        USER,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "invalid_portal_app_id"
    );
}

#[actix_web::test]
async fn teams_user_settings_are_readable() {
    let (app, jira) = app_with_instance().await;
    assert_eq!(
        call(
            &app,
            &jira,
            "GET",
            "/api/v1/teams-users/29:1sNK5nFAqk9wy-1FlQm/settings",
            USER,
            None
        )
        .await
        .status(),
        404
    );
    let mut conn = app.db.conn();
    diesel::sql_query("INSERT INTO teams_user_setting (teams_user_id, settings) VALUES ('29:1sNK5nFAqk9wy-1FlQm', '{\"botWelcomeSent\": true}')").execute(&mut conn).unwrap();
    let body: Value = call(
        &app,
        &jira,
        "GET",
        "/api/v1/teams-users/29:1sNK5nFAqk9wy-1FlQm/settings",
        USER,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["settings"]["botWelcomeSent"], true);
}

#[actix_web::test]
async fn a_teams_user_id_with_a_control_character_is_a_bad_request_not_a_server_error() {
    // found by schemathesis: a NUL in the id reached PostgreSQL and answered 500
    let (app, jira) = app_with_instance().await;
    for id in ["29:abc%00def", "29:abc%0Adef"] {
        let res = call(
            &app,
            &jira,
            "GET",
            &format!("/api/v1/teams-users/{id}/settings"),
            USER,
            None,
        )
        .await;
        assert_eq!(res.status(), 400, "{id}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "invalid_teams_user_id"
        );
    }
}
