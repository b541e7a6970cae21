//! Admin forms for what only the Jira plugin could set, and the setup overview: the `appearance`
//! setting on an instance's settings page (checked as the API checks it, read back by the API),
//! and the *Jira instances* list showing each instance's setup and its next step.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::app::{between, location};
use crate::support::jwt::{app_with_instance, call};
use crate::support::webhook::{post_fixture, webhook_path};
use crate::support::world::{ALICE_KEY, ALICE_OID, instance_id, world};

const USER: &str = "JIRAUSER10100";

async fn appearance_by_api(
    app: &crate::support::app::TestApp,
    jira: &crate::support::jwt::JiraApp,
) -> Value {
    call(app, jira, "GET", "/api/v1/settings/appearance", USER, None)
        .await
        .json()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_appearance_form_saves_what_the_api_then_reads() {
    let (app, jira) = app_with_instance().await;
    let id = instance_id(&mut app.db.conn(), &jira.public_id);
    let page = format!("/admin/instances/{id}/settings");
    let html = app.get(&page).await.text().await.unwrap();
    assert!(
        html.contains(
            "action=\"/admin/instances/{id}/settings/appearance\""
                .replace("{id}", &id.to_string())
                .as_str()
        )
    );
    assert!(
        html.contains("<option value=\"issueContent\" selected>"),
        "the default is shown"
    );
    assert!(html.contains("The default applies"));

    let res = app
        .post_form(
            &format!("{page}/appearance"),
            &[
                ("view_location", "issueSidebar"),
                ("quick_create_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{page}?notice=appearance_saved"));
    let html = app.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("The appearance is saved"), "{html}");
    assert!(html.contains("<option value=\"issueSidebar\" selected>"));
    assert!(html.contains("name=\"quick_create_enabled\" value=\"on\" checked"));
    assert!(html.contains("<code>admin:admin</code>"), "who saved it");

    let body = appearance_by_api(&app, &jira).await;
    assert_eq!(
        body["value"],
        json!({"viewLocation": "issueSidebar", "quickCreateEnabled": true})
    );
    assert_eq!(body["updatedBy"], "admin:admin");

    // unticking the box stores false
    let res = app
        .post_form(
            &format!("{page}/appearance"),
            &[("view_location", "issueActivity")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        appearance_by_api(&app, &jira).await["value"],
        json!({"viewLocation": "issueActivity", "quickCreateEnabled": false})
    );
    // the remote-link switches on the same page are untouched
    let html = app.get(&page).await.text().await.unwrap();
    assert!(html.contains("name=\"remote_links\" value=\"on\" checked"));
}

#[actix_web::test]
async fn a_bad_appearance_value_is_shown_next_to_its_field_and_nothing_is_stored() {
    let (app, jira) = app_with_instance().await;
    let id = instance_id(&mut app.db.conn(), &jira.public_id);
    let action = format!("/admin/instances/{id}/settings/appearance");
    let res = app
        .post_form(
            &action,
            &[("view_location", "moon"), ("quick_create_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let error = between(&html, "id=\"view_location-error\">", "</p>");
    assert!(error.contains("Choose one of the places"), "{error}");
    assert!(
        error.contains("moon"),
        "the reason names the value: {error}"
    );
    assert!(
        html.contains("name=\"quick_create_enabled\" value=\"on\" checked"),
        "the submitted box is kept"
    );
    let res = app
        .post_form(
            &action,
            &[
                ("view_location", "issueSidebar"),
                ("quick_create_enabled", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"quick_create_enabled-error\"")
    );
    let body = appearance_by_api(&app, &jira).await;
    assert!(body["updatedAt"].is_null(), "nothing stored: {body}");

    // without the CSRF token: refused before anything happens
    let res = app
        .post_raw(&action, &[("view_location", "issueSidebar")])
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("This form has expired"));
    assert!(appearance_by_api(&app, &jira).await["updatedAt"].is_null());

    // an instance that does not exist
    let res = app
        .post_form(
            &format!(
                "/admin/instances/{}/settings/appearance",
                uuid::Uuid::new_v4()
            ),
            &[("view_location", "issueSidebar")],
        )
        .await;
    assert_eq!(res.status(), 404);
}

fn next_step(html: &str, public_id: &str) -> String {
    between(html, &format!("id=\"next-{public_id}\">"), "</p>")
}

fn setup_of(html: &str, public_id: &str) -> String {
    between(html, &format!("id=\"setup-{public_id}\">"), "</ul>")
}

#[actix_web::test]
async fn the_instances_list_shows_each_setup_and_its_next_step_as_it_progresses() {
    let w = world().await;
    let pid = w.jira_app.public_id.clone();
    let id = w.instance_id;
    let (other, _) = w
        .app
        .register_instance("https://other-jira.example.com")
        .await;
    let list = || async { w.app.get("/admin/instances").await.text().await.unwrap() };

    let html = list().await;
    assert!(next_step(&html, &other).contains(&format!(
        "/admin/instances/{}/oauth",
        instance_id(&mut w.conn(), &other)
    )));
    assert!(next_step(&html, &other).contains("Set up the Jira OAuth link"));
    assert!(setup_of(&html, &other).contains("OAuth link: <span class=\"warning\">not set up"));
    let setup = setup_of(&html, &pid);
    assert!(setup.contains("set up, not tested yet"), "{setup}");
    assert!(setup.contains("Webhook: <span class=\"warning\">not set up"));
    assert!(setup.contains("no event yet"));
    assert!(setup.contains("Remote links: on"));
    assert!(setup.contains("Linked users: 0"));
    let step = next_step(&html, &pid);
    assert!(step.contains("Set up the webhook"), "{step}");
    assert!(step.contains(&format!("href=\"/admin/instances/{id}/webhook\"")));

    // the admin's connection test passes: tested
    let res = w
        .app
        .post_form(&format!("/admin/instances/{id}/oauth/test"), &[])
        .await;
    assert!(res.text().await.unwrap().contains("are accepted"));
    assert!(setup_of(&list().await, &pid).contains("OAuth link: <span class=\"ok\">tested "));

    // a webhook URL token: the next step waits for the first event
    let path = webhook_path(&w).await;
    let html = list().await;
    assert!(setup_of(&html, &pid).contains("Webhook: <span class=\"ok\">URL token"));
    assert!(next_step(&html, &pid).contains("Wait for the first webhook event"));

    post_fixture(&w.app, &path, "issue_created").await;
    let html = list().await;
    assert!(
        setup_of(&html, &pid).contains("last event 20"),
        "{}",
        setup_of(&html, &pid)
    );
    let step = next_step(&html, &pid);
    assert!(step.contains("Link the first user"), "{step}");
    assert!(step.contains(&format!("href=\"/jira/{pid}/me\"")));

    // a second event within the minute writes nothing
    let stored = || -> Option<chrono::DateTime<chrono::Utc>> {
        use jira_teams_bridge::db::schema::jira_instance_setup as s;
        s::table
            .find(id)
            .select(s::last_event_at)
            .first(&mut w.conn())
            .unwrap()
    };
    let first = stored();
    post_fixture(&w.app, &path, "issue_created").await;
    assert_eq!(stored(), first, "at most one write a minute");

    assert_eq!(w.link(ALICE_KEY, ALICE_OID).await.0, 200);
    let html = list().await;
    assert!(setup_of(&html, &pid).contains("Linked users: 1"));
    assert!(next_step(&html, &pid).contains("nothing left to do"));

    // remote links off shows as off
    let res = w
        .app
        .post_form(&format!("/admin/instances/{id}/settings"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(setup_of(&list().await, &pid).contains("Remote links: off"));

    // saving another OAuth client makes the link untested again
    let res = w
        .app
        .post_form(
            &format!("/admin/instances/{id}/oauth"),
            &[
                ("client_id", "another-client"),
                ("client_secret", "another-secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(setup_of(&list().await, &pid).contains("set up, not tested yet"));
}

#[actix_web::test]
async fn linked_users_are_counted_up_to_ten_thousand() {
    let (app, jira) = app_with_instance().await;
    let id = instance_id(&mut app.db.conn(), &jira.public_id);
    let insert = |n: i64, from: i64| {
        diesel::sql_query(format!(
            "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) \
             SELECT gen_random_uuid(), '{id}', 'JIRAUSER' || g, gen_random_uuid(), gen_random_uuid() \
               FROM generate_series({from}, {}) g",
            from + n - 1
        ))
        .execute(&mut app.db.conn())
        .unwrap();
    };
    insert(1_234, 1);
    let html = app.get("/admin/instances").await.text().await.unwrap();
    assert!(setup_of(&html, &jira.public_id).contains("Linked users: 1,234"));
    insert(10_000 - 1_234, 1_235);
    let html = app.get("/admin/instances").await.text().await.unwrap();
    assert!(setup_of(&html, &jira.public_id).contains("Linked users: 10,000<"));
    insert(1, 10_001);
    let html = app.get("/admin/instances").await.text().await.unwrap();
    assert!(setup_of(&html, &jira.public_id).contains("Linked users: 10,000+"));
}
