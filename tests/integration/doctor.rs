//! `jira-teams-bridge doctor` against a real database and loopback doubles of Jira and Entra.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

use crate::fakes::entra::{self, CLIENT_ID, CLIENT_SECRET};
use crate::support::app::spawn_app;
use crate::support::cli::{check, doctor};

fn fake_jira() -> std::net::SocketAddr {
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/jira/rest/api/2/serverInfo",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .json(json!({"version": "10.3.1", "deploymentType": "Server"}))
                }),
            )
            .default_service(web::to(|| async { HttpResponse::Unauthorized().finish() }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}

#[actix_web::test]
async fn a_healthy_installation_passes_every_check() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let jira = fake_jira();
    let (public_id, _) = app.register_instance(&format!("http://{jira}/jira")).await;
    let (entra_addr, _) = entra::start(3599);
    let ms = vec![
        (
            "JTB__MICROSOFT__TENANT_ID",
            "0c60ce18-654d-441a-badf-14404098f38e".to_owned(),
        ),
        ("JTB__MICROSOFT__CLIENT_ID", CLIENT_ID.to_owned()),
        ("JTB__MICROSOFT__CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("JTB__MICROSOFT__LOGIN_URL", format!("http://{entra_addr}")),
        ("JTB__MICROSOFT__GRAPH_URL", format!("http://{jira}")),
    ];
    let (code, report, stderr) = doctor(&app, ms).await;
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["ok"], true);
    for name in [
        "config",
        "master key",
        "database",
        "migrations",
        "clock",
        "microsoft token",
        "graph",
    ] {
        assert_eq!(check(&report, name)["status"], "ok", "{name}: {report}");
    }
    let j = check(&report, &format!("jira {public_id}"));
    assert_eq!(j["status"], "ok");
    assert!(j["detail"].as_str().unwrap().contains("Jira 10.3.1"), "{j}");
    assert_eq!(check(&report, "public bot URL")["status"], "skipped");
}

#[actix_web::test]
async fn a_broken_installation_fails_with_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, _) = app.register_instance("http://127.0.0.1:1/jira").await;
    let (entra_addr, _) = entra::start(3599);
    std::fs::set_permissions(
        app.state_dir.0.join("master-key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let ms = vec![
        (
            "JTB__MICROSOFT__TENANT_ID",
            "0c60ce18-654d-441a-badf-14404098f38e".to_owned(),
        ),
        ("JTB__MICROSOFT__CLIENT_ID", CLIENT_ID.to_owned()),
        ("JTB__MICROSOFT__CLIENT_SECRET", "expired-secret".to_owned()),
        ("JTB__MICROSOFT__LOGIN_URL", format!("http://{entra_addr}")),
        ("JTB__MICROSOFT__GRAPH_URL", "http://127.0.0.1:1".to_owned()),
    ];
    let (code, report, _) = doctor(&app, ms).await;
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let key = check(&report, "master key");
    assert_eq!(key["status"], "fail");
    assert!(
        key["detail"].as_str().unwrap().contains("chmod 600"),
        "{key}"
    );
    let jira = check(&report, &format!("jira {public_id}"));
    assert_eq!(jira["status"], "fail");
    assert!(jira["fix"].as_str().unwrap().contains("proxy"), "{jira}");
    let token = check(&report, "microsoft token");
    assert_eq!(token["status"], "fail");
    assert!(
        token["detail"].as_str().unwrap().contains("7000215"),
        "{token}"
    );
    assert!(
        token["fix"].as_str().unwrap().contains("client secret"),
        "{token}"
    );
    assert!(
        !report.to_string().contains("expired-secret"),
        "no secret in the report"
    );
    assert_eq!(check(&report, "graph")["status"], "fail");
    assert_eq!(check(&report, "database")["status"], "ok");
}

#[actix_web::test]
async fn doctor_checks_the_registration_entered_on_the_admin_page_and_audits_the_read() {
    let w = crate::support::world::world().await;
    let urls = vec![
        ("JTB__MICROSOFT__LOGIN_URL", w.entra.base.clone()),
        ("JTB__MICROSOFT__GRAPH_URL", w.graph.base.clone()),
    ];
    let (_, report, stderr) = doctor(&w.app, urls.clone()).await;
    assert_eq!(
        check(&report, "microsoft token")["status"],
        "ok",
        "{report} {stderr}"
    );
    assert_eq!(check(&report, "graph")["status"], "ok", "{report}");
    {
        use diesel::prelude::*;
        use jira_teams_bridge::db::schema::secret_access_audit as a;
        let mut conn = w.conn();
        let reads: i64 = a::table
            .filter(a::actor.eq("doctor"))
            .filter(a::outcome.eq("ok"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(
            reads, 1,
            "the doctor's read of the client secret is audited"
        );
    }
    // a wrong secret saved on the admin page: doctor names the problem and where to fix it
    let res = w
        .app
        .post_form(
            "/admin/microsoft",
            &[
                ("cloud", "global"),
                ("tenant_id", crate::fakes::entra::TENANT_ID),
                ("client_id", crate::fakes::entra::CLIENT_ID),
                ("client_secret", "not-the-secret-value-0123456789"),
                ("bot_app_id", crate::fakes::entra::CLIENT_ID),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (code, report, _) = doctor(&w.app, urls).await;
    assert_ne!(code, 0);
    let token = check(&report, "microsoft token");
    assert_eq!(token["status"], "fail", "{report}");
    assert!(
        token["fix"].as_str().unwrap().contains("admin UI"),
        "{token}"
    );
}
