//! JSM portal apps on `/admin/portal-apps`: added, edited and deleted by the admin with the
//! API's rules (and read back by the Jira plugin's API), each refused field named next to it with
//! nothing stored, service desks offered from Jira when the admin's browser is signed in with
//! Jira there, and the Teams app package's version going up with the new tab in its manifest.

use std::io::Read;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::app::{TestApp, between, location};
use crate::support::jwt::{JiraApp, app_with_instance, call};
use crate::support::world::{
    ALICE_KEY, World, follow, instance_id, save_microsoft, world, world_with,
};

const USER: &str = "JIRAUSER10100";

/// A form's fields as posted.
type Fields<'a> = &'a [(&'a str, &'a str)];

async fn api_portal_apps(app: &TestApp, jira: &JiraApp) -> Vec<Value> {
    let body: Value = call(app, jira, "GET", "/api/v1/jsm/portal-apps", USER, None)
        .await
        .json()
        .await
        .unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The id of the portal app whose row shows `tab` on the list page.
async fn listed_id(app: &TestApp, tab: &str) -> String {
    let html = app.get("/admin/portal-apps").await.text().await.unwrap();
    let row_start = html.find(&format!("<td>{tab}")).expect("listed");
    let before = &html[..row_start];
    let at = before.rfind("<tr id=\"app-").unwrap() + "<tr id=\"app-".len();
    before[at..at + 36].to_owned()
}

#[actix_web::test]
async fn an_admin_adds_edits_and_deletes_a_portal_app_that_the_api_then_reads() {
    let (app, jira) = app_with_instance().await;
    let instance = instance_id(&mut app.db.conn(), &jira.public_id).to_string();
    let html = app.get("/admin/portal-apps").await.text().await.unwrap();
    assert!(html.contains("No portal app yet."));
    assert!(
        html.contains("<a href=\"/admin/portal-apps\">JSM portal apps</a>"),
        "in the nav"
    );

    let form = app
        .get("/admin/portal-apps/new")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains(&format!(
        "<option value=\"{instance}\" selected>https://jira.example.com"
    )));
    assert!(
        form.contains("Set up the OAuth link of this instance to pick desks"),
        "no OAuth link: typed ids"
    );
    assert!(!form.contains("id=\"jira-sign-in\""));

    let res = app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", "  Helpdesk "),
                ("icon", "icon3"),
                ("desk_ids", "14, 15"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        "/admin/portal-apps?notice=portal_app_added&package=incomplete"
    );
    let html = app.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("The portal app is added."));
    assert!(
        html.contains("cannot be made yet"),
        "plain http: no package yet"
    );
    assert!(html.contains("<td>14, 15</td>"));
    let items = api_portal_apps(&app, &jira).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["settings"],
        json!({"icon": "icon3", "deskIds": ["14", "15"], "tabName": "Helpdesk"})
    );
    let id = listed_id(&app, "Helpdesk").await;
    assert_eq!(items[0]["id"], id.as_str());

    let edit = format!("/admin/portal-apps/{id}/edit");
    let html = app.get(&edit).await.text().await.unwrap();
    assert!(html.contains("value=\"Helpdesk\""));
    assert!(html.contains("value=\"14, 15\""));
    let res = app
        .post_form(
            &edit,
            &[
                ("tab_name", "Service desk"),
                ("icon", "icon7"),
                ("desk_ids", "15"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/admin/portal-apps?notice=portal_app_saved"));
    let items = api_portal_apps(&app, &jira).await;
    assert_eq!(
        items[0]["settings"],
        json!({"icon": "icon7", "deskIds": ["15"], "tabName": "Service desk"})
    );

    let res = app
        .post_form(&format!("/admin/portal-apps/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/admin/portal-apps?notice=portal_app_deleted"));
    assert!(api_portal_apps(&app, &jira).await.is_empty());
    let html = app.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("The portal app is deleted"));
    assert!(html.contains("No portal app yet."));
}

#[actix_web::test]
async fn refused_fields_are_named_next_to_them_and_nothing_is_stored() {
    let (app, jira) = app_with_instance().await;
    let instance = instance_id(&mut app.db.conn(), &jira.public_id).to_string();
    let long = "x".repeat(31);
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: [(Fields, &str, &str); 6] = [
        (
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14, abc"),
            ],
            "desk_ids-error",
            "“abc” is not a service desk id",
        ),
        (
            &[
                ("instance", &instance),
                ("tab_name", &long),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
            "tab_name-error",
            "1 to 30 characters",
        ),
        (
            &[
                ("instance", &instance),
                ("tab_name", "   "),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
            "tab_name-error",
            "1 to 30 characters",
        ),
        (
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "skull"),
                ("desk_ids", "14"),
            ],
            "icon-error",
            "icon1 to icon99",
        ),
        (
            &[
                ("instance", &unknown),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
            "instance-error",
            "Choose a Jira instance",
        ),
        (
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", ""),
            ],
            "desk_ids-error",
            "at least one service desk",
        ),
    ];
    for (fields, error_id, says) in cases {
        let res = app.post_form("/admin/portal-apps", fields).await;
        assert_eq!(res.status(), 422, "{fields:?}");
        let html = res.text().await.unwrap();
        let message = between(&html, &format!("id=\"{error_id}\">"), "</p>");
        assert!(message.contains(says), "{error_id}: {message}");
        // what was typed stays in the form
        let typed = fields.iter().find(|(k, _)| *k == "tab_name").unwrap().1;
        assert!(html.contains(&format!("value=\"{typed}\"")), "{typed}");
    }
    // several refused fields at once: each gets its message
    let res = app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", ""),
                ("icon", "x"),
                ("desk_ids", "1,2,x"),
            ],
        )
        .await;
    let html = res.text().await.unwrap();
    for id in ["tab_name-error", "icon-error", "desk_ids-error"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let fifty_one: Vec<String> = (1..=51).map(|n| n.to_string()).collect();
    let res = app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", "Many"),
                ("icon", "icon1"),
                ("desk_ids", &fifty_one.join(",")),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("at most 50 service desks")
    );

    // without the CSRF token
    let res = app
        .post_raw(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("This form has expired"));
    assert!(
        api_portal_apps(&app, &jira).await.is_empty(),
        "nothing stored"
    );

    // a portal app that does not exist: a page in the layout, for edit and delete alike
    let ghost = uuid::Uuid::new_v4();
    for res in [
        app.get(&format!("/admin/portal-apps/{ghost}/edit")).await,
        app.get("/admin/portal-apps/not-a-guid/edit").await,
        app.post_form(
            &format!("/admin/portal-apps/{ghost}/edit"),
            &[("tab_name", "X"), ("icon", "icon1"), ("desk_ids", "1")],
        )
        .await,
        app.post_form(&format!("/admin/portal-apps/{ghost}/delete"), &[])
            .await,
    ] {
        assert_eq!(res.status(), 404);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("There is no JSM portal app with this id"),
            "{html}"
        );
        assert!(html.contains("Log out"), "in the admin layout");
    }
    assert!(api_portal_apps(&app, &jira).await.is_empty());
}

const INTERNAL: &str = "https://teams-bridge.corp.example";
const BOT_ID: &str = "6f2f0f2e-8f0b-4e35-9a7e-5a8b1e1f0c11";

async fn manifest(app: &TestApp) -> Value {
    let res = app.get("/admin/teams-app/package.zip").await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[actix_web::test]
async fn a_new_portal_app_raises_the_package_version_and_the_page_says_to_upload_it() {
    let w = world_with(|s| s.listen.internal_url = INTERNAL.into()).await;
    let res = save_microsoft(&w.app, "global", "", BOT_ID, "").await;
    assert_eq!(res.status(), 200);
    assert_eq!(manifest(&w.app).await["version"], "1.0.0");
    let html = w.app.get("/admin/teams-app").await.text().await.unwrap();
    assert!(html.contains("<a href=\"/admin/portal-apps\">JSM portal apps</a> (a Jira plugin"));

    let instance = w.instance_id.to_string();
    let res = w
        .app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        location(&res).ends_with("&package=bumped"),
        "{}",
        location(&res)
    );
    let html = w.app.get(&location(&res)).await.text().await.unwrap();
    let notice = between(&html, "id=\"package-notice\">", "</p>");
    assert!(
        notice.contains("The Teams app package is now version 1.0.1: download it from Teams app and upload it in the Teams admin center."),
        "{notice}"
    );
    let id = listed_id(&w.app, "Helpdesk").await;
    let m = manifest(&w.app).await;
    assert_eq!(m["version"], "1.0.1");
    assert_eq!(
        m["staticTabs"],
        json!([{"entityId": id, "name": "Helpdesk",
                "contentUrl": format!("{INTERNAL}/teams/portal/{id}"), "scopes": ["personal"]}])
    );

    // other desks change no tab: the same package, nothing to upload
    let res = w
        .app
        .post_form(
            &format!("/admin/portal-apps/{id}/edit"),
            &[
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk_ids", "14, 15"),
            ],
        )
        .await;
    assert!(location(&res).ends_with("&package=same"));
    let html = w.app.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("unchanged (version 1.0.1): nothing to upload"));

    // a renamed tab and a deleted one each go up again
    let res = w
        .app
        .post_form(
            &format!("/admin/portal-apps/{id}/edit"),
            &[
                ("tab_name", "IT help"),
                ("icon", "icon3"),
                ("desk_ids", "14"),
            ],
        )
        .await;
    assert!(location(&res).ends_with("&package=bumped"));
    assert_eq!(manifest(&w.app).await["staticTabs"][0]["name"], "IT help");
    let res = w
        .app
        .post_form(&format!("/admin/portal-apps/{id}/delete"), &[])
        .await;
    let html = w.app.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("now version 1.0.3"), "{html}");
    assert!(
        manifest(&w.app)
            .await
            .get("staticTabs")
            .is_none_or(|t| t == &json!([]))
    );
}

/// Signs the admin's own browser in with Jira as Alice through the form's link; returns the
/// form it comes back to.
async fn sign_in_from_form(w: &World, form_path: &str) -> String {
    let html = w.app.get(form_path).await.text().await.unwrap();
    let link = between(&html, "<a id=\"jira-sign-in\" href=\"", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(link.starts_with("/auth/jira/signin?"), "{link}");
    w.jira.sign_in_as(ALICE_KEY);
    let (res, seen) = follow(&w.app.client, &w.app.url(&link)).await;
    assert_eq!(res.status(), 200, "{seen:?}");
    let page = res.text().await.unwrap();
    // a page (not a redirect) goes back, so the admin's SameSite=Strict cookie comes along
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    let back = between(&page, "id=\"continue\" href=\"", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert_eq!(back, form_path);
    w.app.get(&back).await.text().await.unwrap()
}

#[actix_web::test]
async fn desks_are_offered_from_jira_when_the_admin_is_signed_in_with_jira() {
    let w = world().await;
    // more desks than one page of the servicedeskapi holds, and one Alice may not see
    for n in 1..=55 {
        w.jira.add_desk(&n.to_string(), &format!("SD{n}"), 0, None);
    }
    w.jira.add_desk("77", "SECRET", 0, Some(&["JIRAUSER10200"]));
    w.jira.name_desk("14", "IT Helpdesk");
    let unauthenticated = reqwest::get(format!("{}/rest/servicedeskapi/servicedesk", w.jira.base))
        .await
        .unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "the fake wants a bearer token"
    );

    let form_path = format!("/admin/portal-apps/new?instance={}", w.instance_id);
    let html = sign_in_from_form(&w, &form_path).await;
    assert!(
        html.contains("as Jira shows them to alice (Jira)"),
        "{html}"
    );
    assert!(html.contains("name=\"desk\" value=\"14\"> IT Helpdesk <code>SD14</code>"));
    assert!(
        html.contains("name=\"desk\" value=\"55\">"),
        "the second page too"
    );
    assert!(!html.contains("value=\"77\""), "not Alice's");
    let pages: Vec<String> = w
        .jira
        .jsm_calls()
        .into_iter()
        .filter(|(_, p)| p.contains("/servicedesk?"))
        .map(|(_, p)| p)
        .collect();
    assert!(
        pages.iter().any(|p| p.contains("start=0")) && pages.iter().any(|p| p.contains("start=50")),
        "{pages:?}"
    );

    let instance = w.instance_id.to_string();
    for bad in ["77", "999"] {
        let res = w
            .app
            .post_form(
                "/admin/portal-apps",
                &[
                    ("instance", &instance),
                    ("tab_name", "Helpdesk"),
                    ("icon", "icon3"),
                    ("desk", "14"),
                    ("desk_ids", bad),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        let html = res.text().await.unwrap();
        let message = between(&html, "id=\"desk_ids-error\">", "</p>");
        assert!(
            message.contains(&format!(
                "Service desk {bad} is not one of the service desks of this instance"
            )),
            "{message}"
        );
        assert!(
            html.contains("name=\"desk\" value=\"14\" checked>"),
            "the ticked desk stays ticked"
        );
    }
    let res = w
        .app
        .post_form(
            "/admin/portal-apps",
            &[
                ("instance", &instance),
                ("tab_name", "Helpdesk"),
                ("icon", "icon3"),
                ("desk", "14"),
                ("desk", "15"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let items = api_portal_apps(&w.app, &w.jira_app).await;
    assert_eq!(items[0]["settings"]["deskIds"], json!(["14", "15"]));

    // editing ticks the stored desks Jira lists
    let id = listed_id(&w.app, "Helpdesk").await;
    let html = w
        .app
        .get(&format!("/admin/portal-apps/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"desk\" value=\"14\" checked>"));
    assert!(html.contains("name=\"desk\" value=\"15\" checked>"));

    // a desk the portal app already has stays savable although Alice's Jira user cannot see it
    // (set through the API by someone who can)
    let res = w
        .app
        .post_form(
            &format!("/admin/portal-apps/{id}/edit"),
            &[("tab_name", "Helpdesk"), ("icon", "icon3"), ("desk", "14")],
        )
        .await;
    assert_eq!(res.status(), 303);
    diesel::sql_query(format!(
        "UPDATE jsm_portal_app SET settings = jsonb_set(settings, '{{deskIds}}', '[\"14\", \"77\"]') WHERE id = '{id}'"
    ))
    .execute(&mut w.conn())
    .unwrap();
    let res = w
        .app
        .post_form(
            &format!("/admin/portal-apps/{id}/edit"),
            &[
                ("tab_name", "IT help"),
                ("icon", "icon3"),
                ("desk", "14"),
                ("desk_ids", "77"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());

    // consent revoked in Jira: the session ends and the form offers the sign-in again
    w.jira.revoke_user(ALICE_KEY);
    let html = w.app.get(&form_path).await.text().await.unwrap();
    assert!(
        html.contains("Jira no longer accepts your sign-in"),
        "{html}"
    );
    assert!(html.contains("id=\"jira-sign-in\""));
    assert!(!html.contains("name=\"desk\""));
}

#[actix_web::test]
async fn signing_out_of_the_admin_ui_ends_the_browsers_jira_sign_in_so_the_next_admin_does_not_inherit_it()
 {
    let w = world().await;
    w.jira.add_desk("14", "SD14", 0, None);
    let form_path = format!("/admin/portal-apps/new?instance={}", w.instance_id);
    let html = sign_in_from_form(&w, &form_path).await;
    assert!(
        html.contains("as Jira shows them to alice (Jira)"),
        "{html}"
    );
    let jira_sessions = || -> i64 {
        jira_teams_bridge::db::schema::jira_user_session::table
            .count()
            .get_result(&mut w.conn())
            .unwrap()
    };
    assert_eq!(jira_sessions(), 1);
    let res = w.app.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        jira_sessions(),
        0,
        "the Jira session ended with the admin's"
    );
    let res = w
        .app
        .post_form(
            "/login",
            &[
                ("username", "admin"),
                ("password", crate::support::app::ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = w.app.get(&form_path).await.text().await.unwrap();
    assert!(!html.contains("alice (Jira)"), "{html}");
    assert!(
        html.contains("id=\"jira-sign-in\""),
        "the sign-in is offered again"
    );
}
