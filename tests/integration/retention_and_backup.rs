//! Retention and recovery: pruning of old finished deliveries and audit rows, the audit table's
//! refusal of deletes, updates and truncation, and the backup/restore drill (pg_dump + the master
//! key).

use diesel::prelude::*;
use jira_teams_bridge::db::models::secret;

use crate::support::app::{TempDir, spawn_app, start, test_settings};
use crate::support::cli::{cli_env, run_cli};
use crate::support::db::{exec, scalar};
use crate::support::jwt::{JiraApp, call};
use crate::support::world::{ALICE_KEY, instance_id};

fn audit_at(conn: &mut PgConnection, days_ago: i64) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query(format!(
        "INSERT INTO secret_access_audit (at, actor_kind, actor, secret_kind, secret_table, secret_row, purpose, outcome) \
         VALUES (now() - interval '{days_ago} days', 'system', 'test', 'x', 'y', gen_random_uuid(), 'test', 'ok') RETURNING id"))
        .get_result::<Id>(conn)
        .unwrap()
        .id
}

#[actix_web::test]
async fn pruning_deletes_only_old_finished_deliveries_and_audit_rows_past_retention() {
    let app = spawn_app().await;
    let mut conn = app.db.conn();
    exec(
        &mut conn,
        "INSERT INTO outbox (kind, dedupe_key, payload, status, updated_at) VALUES \
         ('k', 'old-done', '{}', 'done', now() - interval '20 days'), \
         ('k', 'old-dead', '{}', 'dead', now() - interval '20 days'), \
         ('k', 'old-pending', '{}', 'pending', now() - interval '20 days'), \
         ('k', 'new-done', '{}', 'done', now() - interval '2 days')",
    );
    let old = audit_at(&mut conn, 500);
    let recent = audit_at(&mut conn, 10);
    let (code, out, err) = run_cli(&["prune"], &cli_env(&app));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("deleted 2 finished deliveries older than 14 day(s) and 1 audit row(s) older than 400 day(s)"), "{out}");
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM outbox WHERE dedupe_key IN ('old-pending', 'new-done')"
        ),
        2
    );
    assert_eq!(scalar(&mut conn, "SELECT count(*) AS n FROM outbox"), 2);
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM secret_access_audit WHERE id = {old}")
        ),
        0
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM secret_access_audit WHERE id = {recent}")
        ),
        1
    );
    // audit_days = 0 keeps everything
    let mut env = cli_env(&app);
    env.push(("JTB__RETENTION__AUDIT_DAYS", "0".into()));
    audit_at(&mut conn, 900);
    let (code, out, _) = run_cli(&["prune"], &env);
    assert_eq!(code, 0);
    assert!(out.contains("and 0 audit row(s)"), "{out}");
}

#[actix_web::test]
async fn the_audit_table_refuses_deleting_recent_rows_updates_and_truncate() {
    let app = spawn_app().await;
    let mut conn = app.db.conn();
    let recent = audit_at(&mut conn, 10);
    let old = audit_at(&mut conn, 100);
    let try_sql =
        |conn: &mut PgConnection, setting: Option<&str>, sql: &str| -> Result<usize, String> {
            conn.transaction(|conn| {
                if let Some(days) = setting {
                    diesel::sql_query(format!("SET LOCAL jtb.audit_retention_days = '{days}'"))
                        .execute(conn)?;
                }
                diesel::sql_query(sql).execute(conn)
            })
            .map_err(|e| e.to_string())
        };
    let del = |id: i64| format!("DELETE FROM secret_access_audit WHERE id = {id}");
    // no horizon set: even an old row stays
    assert!(
        try_sql(&mut conn, None, &del(old))
            .unwrap_err()
            .contains("append-only")
    );
    // a horizon that would reach the recent row
    assert!(
        try_sql(&mut conn, Some("30"), &del(recent))
            .unwrap_err()
            .contains("append-only")
    );
    // a horizon shorter than the 30-day floor
    assert!(
        try_sql(&mut conn, Some("5"), &del(recent))
            .unwrap_err()
            .contains("append-only")
    );
    assert!(
        try_sql(&mut conn, Some("junk"), &del(old))
            .unwrap_err()
            .contains("append-only")
    );
    assert!(
        try_sql(
            &mut conn,
            Some("30"),
            &format!("UPDATE secret_access_audit SET actor = 'x' WHERE id = {old}")
        )
        .unwrap_err()
        .contains("append-only")
    );
    assert!(
        try_sql(&mut conn, Some("30"), "TRUNCATE secret_access_audit")
            .unwrap_err()
            .contains("append-only")
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) AS n FROM secret_access_audit"),
        2
    );
    // the controlled path: an old row under a valid horizon
    assert_eq!(try_sql(&mut conn, Some("30"), &del(old)), Ok(1));
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) AS n FROM secret_access_audit WHERE id = {recent}")
        ),
        1
    );
}

/// Restores a plain `pg_dump` into a fresh database with `psql`.
fn restore_copy(dump: &std::path::Path) -> crate::support::db::TestDb {
    let to = crate::support::db::TestDb::empty();
    let out = std::process::Command::new("psql")
        .args(["-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", &to.url, "-f"])
        .arg(dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    to
}

#[actix_web::test]
async fn a_backup_restores_with_its_key_and_refuses_another_key_without_decrypting() {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (public_id, secret) = app.register_instance("https://jira.example.com").await;
    let jira = JiraApp {
        public_id: public_id.clone(),
        secret,
    };
    assert_eq!(
        call(&app, &jira, "GET", "/api/v1/me", ALICE_KEY, None)
            .await
            .status(),
        200
    );

    // the backup: pg_dump of the database, and the master key file
    let backup = TempDir::new();
    let dump = backup.0.join("jtb.sql");
    let out = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "-d", &app.db.url, "-f"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        app.state_dir.0.join("master-key"),
        backup.0.join("master-key"),
    )
    .unwrap();

    // restored with the same key: the Jira app's signed requests are accepted again
    let db = restore_copy(&dump);
    let dir = TempDir::new();
    std::fs::copy(backup.0.join("master-key"), dir.0.join("master-key")).unwrap();
    let restored = start(test_settings(&db, &dir.0), db, dir).await;
    assert_eq!(
        call(&restored, &jira, "GET", "/api/v1/me", ALICE_KEY, None)
            .await
            .status(),
        200
    );

    // restored without the key (the daemon makes a new one): the secret cannot be decrypted,
    // requests are refused, and the failed read is audited
    let db = restore_copy(&dump);
    let dir = TempDir::new();
    let lost = start(test_settings(&db, &dir.0), db, dir).await;
    let res = call(&lost, &jira, "GET", "/api/v1/me", ALICE_KEY, None).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let body = res.text().await.unwrap();
    assert!(!body.contains(&jira.secret));
    let mut conn = lost.db.conn();
    let inst = instance_id(&mut conn, &public_id);
    let actor = jira_teams_bridge::db::models::audit::Actor::Cli("restore drill".into());
    let ctx = secret::ReadContext {
        actor: &actor,
        purpose: "restore drill",
        label: "",
    };
    let err = secret::read(
        &mut conn,
        &lost.state.vault,
        secret::JIRA_SHARED_SECRET,
        inst,
        &ctx,
    )
    .unwrap_err();
    assert!(err.to_string().contains("wrong key"), "{err}");
    assert!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM secret_access_audit WHERE outcome = 'failed'"
        ) >= 1
    );
}
