//! The secret vault against the real database: audit of every read, ciphertexts bound to their
//! row, key rotation, and the append-only audit table.

use crate::support::app::{TestApp, spawn_app};
use crate::support::cli::{cli_env, run_cli};
use diesel::prelude::*;
use jira_teams_bridge::db::models::audit::Actor;
use jira_teams_bridge::db::models::secret::{
    self, ACCESS_TOKEN, JIRA_SHARED_SECRET, REFRESH_TOKEN, ReadContext, SecretReadError,
};
use jira_teams_bridge::db::schema::{access_token, jira_instance, secret_access_audit};
use secrecy::ExposeSecret;
use uuid::Uuid;

async fn with_two_instances() -> (TestApp, Vec<(Uuid, String)>) {
    let app = spawn_app().await;
    app.complete_setup().await;
    let (p1, s1) = app.register_instance("https://jira.example.com").await;
    let (p2, s2) = app
        .register_instance("https://servicedesk.example.com/jira")
        .await;
    let mut conn = app.db.conn();
    let id = |p: &str, conn: &mut PgConnection| {
        jira_instance::table
            .filter(jira_instance::public_id.eq(p))
            .select(jira_instance::id)
            .first::<Uuid>(conn)
            .unwrap()
    };
    let rows = vec![(id(&p1, &mut conn), s1), (id(&p2, &mut conn), s2)];
    (app, rows)
}

fn read(app: &TestApp, col: secret::SecretColumn, row: Uuid) -> Result<String, SecretReadError> {
    let mut conn = app.db.conn();
    let actor = Actor::Api("tHXLY2:JIRAUSER10100".into());
    let ctx = ReadContext {
        actor: &actor,
        purpose: "verify request signature",
        label: "test",
    };
    secret::read(&mut conn, &app.state.vault, col, row, &ctx).map(|s| s.expose_secret().to_owned())
}

fn audit_rows(app: &TestApp) -> Vec<(String, String, Uuid, String, String)> {
    let mut conn = app.db.conn();
    secret_access_audit::table
        .order(secret_access_audit::id)
        .select((
            secret_access_audit::actor,
            secret_access_audit::secret_kind,
            secret_access_audit::secret_row,
            secret_access_audit::purpose,
            secret_access_audit::outcome,
        ))
        .load(&mut conn)
        .unwrap()
}

#[actix_web::test]
async fn every_secret_read_writes_an_audit_row() {
    let (app, rows) = with_two_instances().await;
    assert!(audit_rows(&app).is_empty(), "registering reads nothing");
    for (id, s) in &rows {
        assert_eq!(&read(&app, JIRA_SHARED_SECRET, *id).unwrap(), s);
    }
    assert!(matches!(
        read(&app, JIRA_SHARED_SECRET, Uuid::new_v4()),
        Err(SecretReadError::Missing)
    ));
    let audit = audit_rows(&app);
    assert_eq!(audit.len(), 3);
    assert_eq!(
        audit[0],
        (
            "tHXLY2:JIRAUSER10100".into(),
            "jira_shared_secret".into(),
            rows[0].0,
            "verify request signature".into(),
            "ok".into()
        )
    );
    assert_eq!(audit[1].2, rows[1].0);
    assert_eq!(audit[2].4, "missing");
    // the audit page lists them and filters by secret
    let html = app
        .get(&format!("/admin/audit?secret={}", rows[1].0))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&rows[1].0.to_string()));
    assert!(
        !html.contains(&format!(">{}</code>", rows[0].0)),
        "filtered out"
    );
    assert!(html.contains("verify request signature"));
    let bad = app
        .get("/admin/audit?secret=not-a-guid")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        bad.contains("Enter the secret&#39;s row id")
            || bad.contains("Enter the secret's row id")
            || bad.contains("row id (a GUID)")
    );
}

#[actix_web::test]
async fn a_ciphertext_copied_to_another_row_does_not_decrypt_and_the_failure_is_audited() {
    let (app, rows) = with_two_instances().await;
    let mut conn = app.db.conn();
    diesel::sql_query(format!(
        "UPDATE jira_instance SET shared_secret = (SELECT shared_secret FROM jira_instance WHERE id = '{}') WHERE id = '{}'",
        rows[0].0, rows[1].0
    ))
    .execute(&mut conn)
    .unwrap();
    let err = read(&app, JIRA_SHARED_SECRET, rows[1].0).unwrap_err();
    assert!(
        matches!(
            err,
            SecretReadError::Vault(jira_teams_bridge::crypto::VaultError::Authentication)
        ),
        "{err}"
    );
    assert_eq!(
        read(&app, JIRA_SHARED_SECRET, rows[0].0).unwrap(),
        rows[0].1,
        "the original row still reads"
    );
    let audit = audit_rows(&app);
    assert_eq!(audit[0].4, "failed");
    assert_eq!(audit[0].2, rows[1].0);
}

#[actix_web::test]
async fn a_secret_cannot_be_read_inside_another_transaction() {
    let (app, rows) = with_two_instances().await;
    let mut conn = app.db.conn();
    let actor = Actor::Job("test".into());
    let ctx = ReadContext {
        actor: &actor,
        purpose: "test",
        label: "",
    };
    let result: Result<(), diesel::result::Error> = conn.transaction(|conn| {
        let r = secret::read(conn, &app.state.vault, JIRA_SHARED_SECRET, rows[0].0, &ctx);
        assert!(matches!(r, Err(SecretReadError::InTransaction)));
        Ok(())
    });
    result.unwrap();
    assert!(audit_rows(&app).is_empty());
}

#[actix_web::test]
async fn rotate_key_without_retiring_keeps_old_versions_for_decryption() {
    let (app, rows) = with_two_instances().await;
    let (code, stdout, stderr) = run_cli(&["rotate-key"], &cli_env(&app));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("old key versions stay in the keyring"),
        "{stdout}"
    );
    let ring = std::fs::read_to_string(app.state_dir.0.join("master-key")).unwrap();
    assert!(ring.contains("\nv1 ") && ring.contains("\nv2 "), "{ring}");
    assert_eq!(
        read(&app, JIRA_SHARED_SECRET, rows[1].0).unwrap(),
        rows[1].1
    );
}

#[actix_web::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let (app, rows) = with_two_instances().await;
    read(&app, JIRA_SHARED_SECRET, rows[0].0).unwrap();
    let mut conn = app.db.conn();
    for sql in [
        "UPDATE secret_access_audit SET outcome = 'failed'",
        "DELETE FROM secret_access_audit",
        "TRUNCATE secret_access_audit",
    ] {
        let err = diesel::sql_query(sql).execute(&mut conn).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(audit_rows(&app).len(), 1);
}

fn insert_token(app: &TestApp, tenant: Uuid, token: &str, refresh: &str) -> Uuid {
    let mut conn = app.db.conn();
    let id = Uuid::new_v4();
    let at = secret::seal(&app.state.vault, ACCESS_TOKEN, id, token).unwrap();
    let rt = secret::seal(&app.state.vault, REFRESH_TOKEN, id, refresh).unwrap();
    diesel::insert_into(access_token::table)
        .values((
            access_token::id.eq(id),
            access_token::kind.eq("microsoft_app"),
            access_token::ms_tenant_id.eq(tenant),
            access_token::token.eq(at),
            access_token::refresh_token.eq(rt),
        ))
        .execute(&mut conn)
        .unwrap();
    id
}

fn all_ciphertexts(app: &TestApp) -> Vec<Vec<u8>> {
    let mut conn = app.db.conn();
    let mut out: Vec<Vec<u8>> = jira_instance::table
        .order(jira_instance::id)
        .select(jira_instance::shared_secret)
        .load(&mut conn)
        .unwrap();
    let tokens: Vec<(Vec<u8>, Option<Vec<u8>>)> = access_token::table
        .order(access_token::id)
        .select((access_token::token, access_token::refresh_token))
        .load(&mut conn)
        .unwrap();
    for (a, r) in tokens {
        out.push(a);
        out.extend(r);
    }
    out
}

#[actix_web::test]
async fn rotate_key_reencrypts_every_secret_and_keeps_them_readable() {
    let (app, rows) = with_two_instances().await;
    let tok = insert_token(
        &app,
        Uuid::new_v4(),
        "eyJ0eXAiOiJKV1Qi.access",
        "0.AAAA-refresh-token",
    );
    let before = all_ciphertexts(&app);
    assert_eq!(before.len(), 4);
    let (code, stdout, stderr) = run_cli(&["rotate-key", "--retire-old"], &cli_env(&app));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("re-encrypted 4 secret(s) under key v2"),
        "{stdout}"
    );
    let after = all_ciphertexts(&app);
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(b, a, "every ciphertext changes");
        assert_eq!(
            jira_teams_bridge::crypto::vault::blob_version(a).unwrap(),
            2
        );
    }
    // the running daemon picks up the new keyring from the file and reads everything
    for (id, s) in &rows {
        assert_eq!(&read(&app, JIRA_SHARED_SECRET, *id).unwrap(), s);
    }
    assert_eq!(
        read(&app, ACCESS_TOKEN, tok).unwrap(),
        "eyJ0eXAiOiJKV1Qi.access"
    );
    assert_eq!(
        read(&app, REFRESH_TOKEN, tok).unwrap(),
        "0.AAAA-refresh-token"
    );
    // the keyring holds only v2; v1 moved to a retired file
    let ring = std::fs::read_to_string(app.state_dir.0.join("master-key")).unwrap();
    assert!(ring.contains("\nv2 ") && !ring.contains("\nv1 "), "{ring}");
    let retired: Vec<_> = std::fs::read_dir(&app.state_dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("retired"))
        .collect();
    assert_eq!(retired.len(), 1);
    // rotation decrypted 4 secrets: 4 audit rows by the CLI
    let audit = audit_rows(&app);
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.0 == "rotate-key" && r.3 == "key rotation" && r.4 == "ok")
            .count(),
        4
    );
    // new secrets are written under v2
    let (_, s3) = app.register_instance("https://third.example.com").await;
    let mut conn = app.db.conn();
    let (id3, blob): (Uuid, Vec<u8>) = jira_instance::table
        .filter(jira_instance::base_url.eq("https://third.example.com"))
        .select((jira_instance::id, jira_instance::shared_secret))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        jira_teams_bridge::crypto::vault::blob_version(&blob).unwrap(),
        2
    );
    assert_eq!(read(&app, JIRA_SHARED_SECRET, id3).unwrap(), s3);
}

#[actix_web::test]
async fn a_rotation_that_meets_a_bad_ciphertext_rolls_back_every_secret_and_audits_the_failure() {
    let (app, rows) = with_two_instances().await;
    let mut conn = app.db.conn();
    // corrupt one ciphertext: rotation must stop and roll back
    diesel::sql_query(format!("UPDATE jira_instance SET shared_secret = overlay(shared_secret placing '\\x00'::bytea from 30) WHERE id = '{}'", rows[1].0))
        .execute(&mut conn)
        .unwrap();
    let before = all_ciphertexts(&app);
    let (code, _, stderr) = run_cli(&["rotate-key"], &cli_env(&app));
    assert_eq!(code, 1);
    assert!(stderr.contains("rotation rolled back"), "{stderr}");
    assert_eq!(all_ciphertexts(&app), before, "nothing half-written");
    // the decryptions of the rolled-back rotation are audited, the failing one as failed
    let audit = audit_rows(&app);
    assert!(
        audit
            .iter()
            .any(|r| r.0 == "rotate-key" && r.2 == rows[1].0 && r.4 == "failed"),
        "{audit:?}"
    );
    assert_eq!(
        read(&app, JIRA_SHARED_SECRET, rows[0].0).unwrap(),
        rows[0].1,
        "old key still reads"
    );
}

#[actix_web::test]
async fn two_key_rotations_at_once_take_turns_and_lose_no_key() {
    let (app, rows) = with_two_instances().await;
    let env = cli_env(&app);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || {
                let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.clone())).collect();
                run_cli(&["rotate-key"], &env)
            })
        })
        .collect();
    for r in runs {
        let (code, stdout, stderr) = r.join().unwrap();
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    // both added their own version (v2 and v3), and every secret is under the newest
    let ring = std::fs::read_to_string(app.state_dir.0.join("master-key")).unwrap();
    for v in ["\nv1 ", "\nv2 ", "\nv3 "] {
        assert!(ring.contains(v), "{ring}");
    }
    for (id, plain) in &rows {
        assert_eq!(&read(&app, JIRA_SHARED_SECRET, *id).unwrap(), plain);
    }
}
