//! Jira instance registration, the one-time secret display, regenerate, disable, delete.

use crate::support::app::{TestApp, location, spawn_app};
use diesel::prelude::*;
use jira_teams_bridge::db::schema::jira_instance;

async fn signed_in() -> TestApp {
    let app = spawn_app().await;
    app.complete_setup().await;
    app
}

fn count(app: &TestApp) -> i64 {
    let mut conn = app.db.conn();
    jira_instance::table.count().get_result(&mut conn).unwrap()
}

#[actix_web::test]
async fn two_instances_are_registered_and_listed_with_shortened_secrets() {
    let app = signed_in().await;
    let (id1, secret1) = app.register_instance("https://jira.example.com").await;
    let (id2, secret2) = app
        .register_instance("https://servicedesk.example.com/jira/")
        .await;
    assert_eq!(secret1.len(), 43, "256-bit secret in URL-safe base64");
    assert_ne!(secret1, secret2);
    assert_ne!(id1, id2);
    assert!(jira_teams_bridge::domain::PublicId::parse(&id1).is_some());

    let html = app.get("/admin/instances").await.text().await.unwrap();
    assert!(html.contains("https://jira.example.com"));
    assert!(
        html.contains("https://servicedesk.example.com/jira<"),
        "normalised without trailing slash"
    );
    assert!(html.contains(&id1) && html.contains(&id2));
    assert!(
        html.contains(&format!("{}…", &secret1[..6])),
        "shortened secret shown"
    );
    assert!(
        !html.contains(&secret1) && !html.contains(&secret2),
        "full secret never shown again"
    );
    let inventory = app
        .get("/admin/data/jira_instance")
        .await
        .text()
        .await
        .unwrap();
    assert!(inventory.contains(&id1) && !inventory.contains(&secret1));
}

#[actix_web::test]
async fn the_secret_page_is_not_cached() {
    let app = signed_in().await;
    let res = app
        .post_form(
            "/admin/instances",
            &[("base_url", "https://jira.example.com")],
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
}

#[actix_web::test]
async fn each_bad_url_class_is_refused_next_to_the_field() {
    let app = signed_in().await;
    let cases = [
        ("", "Enter the Jira base URL."),
        (
            "ftp://jira.example.com",
            "Only http and https URLs are allowed.",
        ),
        ("jira.example.com", "This is not a valid URL"),
        (
            "https://admin:secret@jira.example.com",
            "Remove the user name and password",
        ),
        ("https://jira.example.com/#top", "Remove the #fragment"),
        (
            "https://jira.example.com/?os_authType=basic",
            "Remove the ?query",
        ),
        ("https://", "The URL must name a host."),
        (
            "https://jira_host.corp",
            "may contain only letters, digits, dots and hyphens",
        ),
    ];
    for (input, message) in cases {
        let res = app
            .post_form("/admin/instances", &[("base_url", input)])
            .await;
        assert_eq!(res.status(), 422, "{input}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("class=\"field-error\"") && html.contains(message),
            "{input}: expected `{message}`"
        );
    }
    assert_eq!(count(&app), 0, "nothing stored");
}

#[actix_web::test]
async fn a_second_spelling_of_a_registered_url_is_a_duplicate() {
    let app = signed_in().await;
    app.register_instance("https://servicedesk.example.com/jira")
        .await;
    for dup in [
        "HTTPS://ServiceDesk.Example.COM/jira/",
        "https://servicedesk.example.com:443/jira",
        "https://servicedesk.example.com//jira//",
    ] {
        let res = app
            .post_form("/admin/instances", &[("base_url", dup)])
            .await;
        assert_eq!(res.status(), 422, "{dup}");
        assert!(res.text().await.unwrap().contains("is already registered"));
    }
    assert_eq!(count(&app), 1);
    // http and https of one host are one instance
    let res = app
        .post_form(
            "/admin/instances",
            &[("base_url", "http://servicedesk.example.com/jira")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("is already registered"));
    // a different context path is a different instance
    app.register_instance("https://servicedesk.example.com/jira2")
        .await;
    assert_eq!(count(&app), 2);
}

#[actix_web::test]
async fn regenerating_shows_a_new_secret_once_and_replaces_the_old() {
    let app = signed_in().await;
    let (public_id, old) = app.register_instance("https://jira.example.com").await;
    let mut conn = app.db.conn();
    let (id, before): (uuid::Uuid, Vec<u8>) = jira_instance::table
        .select((jira_instance::id, jira_instance::shared_secret))
        .first(&mut conn)
        .unwrap();
    let page = app
        .get(&format!("/admin/instances/{id}/regenerate"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("stops working at once"));
    let res = app
        .post_form(&format!("/admin/instances/{id}/regenerate"), &[])
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let new = crate::support::app::between(
        &html,
        "<code id=\"shared-secret\" class=\"secret\">",
        "</code>",
    );
    assert_ne!(new, old);
    assert!(html.contains(&public_id), "public ID unchanged");
    let after: Vec<u8> = jira_instance::table
        .select(jira_instance::shared_secret)
        .first(&mut conn)
        .unwrap();
    assert_ne!(before, after);
    // the stored secret is the new one
    let actor = jira_teams_bridge::db::models::audit::Actor::System("test".into());
    let ctx = jira_teams_bridge::db::models::secret::ReadContext {
        actor: &actor,
        purpose: "test",
        label: "",
    };
    let read = jira_teams_bridge::db::models::secret::read(
        &mut conn,
        &app.state.vault,
        jira_teams_bridge::db::models::secret::JIRA_SHARED_SECRET,
        id,
        &ctx,
    )
    .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&read), new);
}

#[actix_web::test]
async fn disabling_and_enabling_an_instance() {
    let app = signed_in().await;
    app.register_instance("https://jira.example.com").await;
    let mut conn = app.db.conn();
    let id: uuid::Uuid = jira_instance::table
        .select(jira_instance::id)
        .first(&mut conn)
        .unwrap();
    let res = app
        .post_form(&format!("/admin/instances/{id}/disable"), &[])
        .await;
    assert_eq!(location(&res), "/admin/instances?notice=disabled");
    let html = app.get(&location(&res)).await.text().await.unwrap();
    assert!(
        html.contains("<strong>disabled</strong>") && html.contains("The instance is disabled")
    );
    assert!(
        !jira_instance::table
            .select(jira_instance::enabled)
            .first::<bool>(&mut conn)
            .unwrap()
    );
    app.post_form(&format!("/admin/instances/{id}/enable"), &[])
        .await;
    assert!(
        jira_instance::table
            .select(jira_instance::enabled)
            .first::<bool>(&mut conn)
            .unwrap()
    );
    // unknown ids are a clear 404
    let res = app
        .post_form(
            &format!("/admin/instances/{}/disable", uuid::Uuid::new_v4()),
            &[],
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn deleting_needs_the_public_id_typed_and_removes_the_data() {
    let app = signed_in().await;
    let (public_id, _) = app.register_instance("https://jira.example.com").await;
    app.register_instance("https://other.example.com").await;
    let mut conn = app.db.conn();
    let id: uuid::Uuid = jira_instance::table
        .filter(jira_instance::public_id.eq(&public_id))
        .select(jira_instance::id)
        .first(&mut conn)
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO user_mapping (id, jira_instance_id, jira_user_key, ms_tenant_id, ms_user_id) VALUES (gen_random_uuid(), '{id}', 'JIRAUSER10100', gen_random_uuid(), gen_random_uuid())"
    ))
    .execute(&mut conn)
    .unwrap();
    let page = app
        .get(&format!("/admin/instances/{id}/delete"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("cannot be undone"));
    let res = app
        .post_form(
            &format!("/admin/instances/{id}/delete"),
            &[("confirm", "wrong")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("nothing was deleted"));
    assert_eq!(count(&app), 2);
    let res = app
        .post_form(
            &format!("/admin/instances/{id}/delete"),
            &[("confirm", &public_id)],
        )
        .await;
    assert_eq!(location(&res), "/admin/instances?notice=deleted");
    assert_eq!(count(&app), 1);
    let mappings: i64 = jira_teams_bridge::db::schema::user_mapping::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mappings, 0);
}

#[actix_web::test]
async fn a_pg_dump_contains_no_registered_secret() {
    let app = signed_in().await;
    let (id1, s1) = app.register_instance("https://jira.example.com").await;
    let (_, s2) = app
        .register_instance("https://servicedesk.example.com/jira")
        .await;
    let out = std::process::Command::new("pg_dump")
        .arg("--no-owner")
        .arg(&app.db.url)
        .output()
        .expect("pg_dump is installed");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(dump.contains(&id1), "the dump does hold the instances");
    for s in [&s1, &s2] {
        assert!(!dump.contains(s.as_str()), "secret in clear in the dump");
        assert!(
            !dump.contains(&hex::encode(s.as_bytes())),
            "secret hex-encoded in the dump"
        );
    }
}
