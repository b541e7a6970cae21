//! Certificate client credentials for the Microsoft app registration: entered on the admin page
//! (stored encrypted, never shown back, replacing the secret), used for app-only tokens and for
//! user sign-in (code redemption and refresh) as signed client assertions, refused field by field
//! when the PEM is not a certificate with its matching key, and validated at start from config.

use std::sync::atomic::Ordering;

use diesel::prelude::*;
use jira_teams_bridge::db::schema::microsoft_app;
use openssl::pkey::{PKey, Private};

use crate::fakes;
use crate::support::app::{TempDir, spawn_app_with};
use crate::support::cli::assert_config_error;
use crate::support::world::{
    ALICE_KEY, ALICE_OID, CATALOG_ID, World, expire_microsoft_token, world,
};

/// A fresh RSA key and a self-signed certificate for it: (certificate PEM, key PEM).
pub fn self_signed_rsa() -> (String, String) {
    self_signed_with(&PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap())
}

fn self_signed_with(key: &PKey<Private>) -> (String, String) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509, X509NameBuilder};
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "jira-teams-bridge appliance")
        .unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    let cert = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
    let key = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, key)
}

/// Posts the registration with `credential` = certificate and `pem`.
async fn save_certificate(w: &crate::support::app::TestApp, pem: &str) -> reqwest::Response {
    w.post_form(
        "/admin/microsoft",
        &[
            ("cloud", "global"),
            ("tenant_id", fakes::entra::TENANT_ID),
            ("client_id", fakes::entra::CLIENT_ID),
            ("credential", "certificate"),
            ("client_secret", ""),
            ("client_certificate_pem", pem),
            ("bot_app_id", fakes::entra::CLIENT_ID),
            ("teams_app_catalog_id", CATALOG_ID),
        ],
    )
    .await
}

/// The linking world with the registration switched to a certificate on the admin page (the
/// fake Entra ID knows the certificate); returns the certificate PEM and the saved page.
pub async fn world_with_certificate() -> (World, String, String) {
    let w = world().await;
    let (cert, key) = self_signed_rsa();
    *w.entra.client_certificate.lock().unwrap() = Some(cert.clone().into_bytes());
    let res = save_certificate(&w.app, &format!("{cert}{key}")).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    (w, cert, page)
}

fn form_has(form: &[(String, String)], name: &str) -> bool {
    form.iter().any(|(k, _)| k == name)
}

fn stored(w: &World) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    microsoft_app::table
        .select((
            microsoft_app::client_secret,
            microsoft_app::client_certificate,
        ))
        .first(&mut w.conn())
        .unwrap()
}

#[actix_web::test]
async fn a_certificate_entered_on_the_admin_page_passes_the_connection_test_without_a_secret() {
    let (w, _, _) = world_with_certificate().await;
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("the app registration works"), "{html}");
    assert!(
        html.contains("authenticated with its certificate"),
        "{html}"
    );
    let form = w.entra.last_form.lock().unwrap().clone();
    assert!(form.contains(&(
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()
    )));
    assert!(form_has(&form, "client_assertion"));
    assert!(!form_has(&form, "client_secret"), "{form:?}");
}

#[actix_web::test]
async fn the_certificate_is_stored_encrypted_replaces_the_secret_and_is_never_shown() {
    let (w, cert, saved) = world_with_certificate().await;
    let body = cert
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_owned();
    // right after saving: what the certificate is, from the submitted PEM
    assert!(saved.contains("Certificate stored"), "{saved}");
    assert!(saved.contains("CN=jira-teams-bridge appliance"));
    let x509 = openssl::x509::X509::from_pem(cert.as_bytes()).unwrap();
    let sha1 = x509.digest(openssl::hash::MessageDigest::sha1()).unwrap();
    assert!(saved.contains(&hex::encode_upper(&*sha1)));
    let later = w.app.get("/admin/microsoft").await.text().await.unwrap();
    assert!(later.contains("certificate stored; leave empty to keep it"));
    assert!(
        later.contains("Client secret </label>"),
        "no secret is stored any more"
    );
    for page in [&saved, &later] {
        assert!(!page.contains(&body), "the PEM never comes back");
        assert!(!page.contains("PRIVATE KEY-----\n"));
    }
    let (secret, certificate) = stored(&w);
    assert!(secret.is_none(), "the certificate replaced the secret");
    let blob = certificate.unwrap();
    assert!(blob.starts_with(b"JTB1"));
    let text = String::from_utf8_lossy(&blob);
    assert!(!text.contains(&body) && !text.contains("BEGIN"));
    // saving again with the certificate field empty keeps it (and it still works); entering a
    // secret replaces it
    assert_eq!(save_certificate(&w.app, "").await.status(), 200);
    assert!(stored(&w).1.is_some());
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("authenticated with its certificate"),
        "{html}"
    );
    let res = w
        .app
        .post_form(
            "/admin/microsoft",
            &[
                ("cloud", "global"),
                ("tenant_id", fakes::entra::TENANT_ID),
                ("client_id", fakes::entra::CLIENT_ID),
                ("credential", "secret"),
                ("client_secret", fakes::entra::CLIENT_SECRET),
                ("client_certificate_pem", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (secret, certificate) = stored(&w);
    assert!(secret.is_some() && certificate.is_none());
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("authenticated with its client secret"),
        "{html}"
    );
    // the certificate read was audited under its own kind
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n = diesel::sql_query(
        "SELECT count(*) AS n FROM secret_access_audit WHERE secret_kind = 'microsoft_client_certificate' AND outcome = 'ok'",
    )
    .get_result::<N>(&mut w.conn())
    .unwrap()
    .n;
    assert!(n >= 1);
}

#[actix_web::test]
async fn a_user_signs_in_and_refreshes_with_the_certificate_credential() {
    let (w, _, _) = world_with_certificate().await;
    let (status, page) = w.link(ALICE_KEY, ALICE_OID).await;
    assert_eq!(status, 200);
    assert!(page.contains("Accounts linked"), "{page}");
    // the code redemption authenticated with an assertion
    let form = w.entra.last_form.lock().unwrap().clone();
    assert!(form.contains(&("grant_type".into(), "authorization_code".into())));
    assert!(form_has(&form, "client_assertion") && !form_has(&form, "client_secret"));

    expire_microsoft_token(&w);
    let before = w.entra.refresh_calls.load(Ordering::SeqCst);
    let mapping = jira_teams_bridge::db::models::user_mapping::UserMapping::find(
        &mut w.conn(),
        w.instance_id,
        ALICE_KEY,
    )
    .unwrap()
    .unwrap();
    let actor = jira_teams_bridge::db::models::audit::Actor::System("test".into());
    jira_teams_bridge::services::tokens::microsoft_token(
        &w.app.state,
        &mapping,
        &actor,
        "test",
        false,
    )
    .await
    .unwrap();
    assert_eq!(w.entra.refresh_calls.load(Ordering::SeqCst), before + 1);
    let form = w.entra.last_form.lock().unwrap().clone();
    assert!(form.contains(&("grant_type".into(), "refresh_token".into())));
    assert!(form_has(&form, "client_assertion") && !form_has(&form, "client_secret"));
}

#[actix_web::test]
async fn a_captured_assertion_cannot_be_replayed_and_an_unregistered_certificate_is_named() {
    let (w, _, _) = world_with_certificate().await;
    let html = w.app.post_form("/admin/microsoft/test", &[]).await;
    assert_eq!(html.status(), 200);
    let form = w.entra.last_form.lock().unwrap().clone();
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        w.entra.base,
        fakes::entra::TENANT_ID
    );
    let res = reqwest::Client::new()
        .post(&url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 700027);

    // Entra knows another certificate: the test button says what to do
    let (other, _) = self_signed_rsa();
    *w.entra.client_certificate.lock().unwrap() = Some(other.into_bytes());
    let (cert, key) = self_signed_rsa();
    assert_eq!(
        save_certificate(&w.app, &format!("{key}{cert}"))
            .await
            .status(),
        200
    );
    let html = w
        .app
        .post_form("/admin/microsoft/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("does not accept the certificate"), "{html}");
    assert!(html.contains("AADSTS700027"), "{html}");
}

#[actix_web::test]
async fn a_pem_that_is_not_a_certificate_with_its_key_is_refused_in_place_and_nothing_is_saved() {
    let app = spawn_app_with(|_| {}).await;
    app.complete_setup().await;
    let (cert, key) = self_signed_rsa();
    let (_, other_key) = self_signed_rsa();
    let cases = [
        (cert.clone(), "The private key is missing"),
        (
            format!("{cert}{other_key}"),
            "does not belong to this certificate",
        ),
        (
            "garbage -----BEGIN nothing".to_owned(),
            "This is not a certificate",
        ),
        (key.clone(), "This is not a certificate"),
        (
            String::new(),
            "Paste the certificate together with its private key",
        ),
    ];
    for (pem, message) in cases {
        let res = save_certificate(&app, &pem).await;
        assert_eq!(res.status(), 422, "{message}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "missing: {message}\n{html}");
        assert!(
            !html.contains("Enter the client secret"),
            "only the chosen credential counts"
        );
        if let Some(line) = pem.lines().nth(1) {
            assert!(!html.contains(line), "the PEM is not echoed");
        }
        assert!(html.contains("value=\"certificate\" checked"));
    }
    let n: i64 = microsoft_app::table
        .count()
        .get_result(&mut app.db.conn())
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_bad_client_certificate_file_fails_check_config_naming_the_key() {
    let dir = TempDir::new();
    let garbage = dir.0.join("garbage.pem");
    std::fs::write(&garbage, "not a pem").unwrap();
    let (cert, key) = self_signed_rsa();
    let cert_only = dir.0.join("cert-only.pem");
    std::fs::write(&cert_only, &cert).unwrap();
    let good = dir.0.join("good.pem");
    std::fs::write(&good, format!("{cert}{key}")).unwrap();
    for file in [
        garbage.to_str().unwrap(),
        cert_only.to_str().unwrap(),
        "/nonexistent/cert.pem",
    ] {
        assert_config_error(
            &["check-config"],
            &[("JTB__MICROSOFT__CLIENT_CERTIFICATE_FILE", file.to_owned())],
            "microsoft.client_certificate_file",
        );
    }
    // a good file passes; with a client secret as well it is refused
    let (code, _, stderr) = crate::support::cli::run_cli(
        &["check-config"],
        &[(
            "JTB__MICROSOFT__CLIENT_CERTIFICATE_FILE",
            good.to_str().unwrap().to_owned(),
        )],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_config_error(
        &["check-config"],
        &[
            (
                "JTB__MICROSOFT__CLIENT_CERTIFICATE_FILE",
                good.to_str().unwrap().to_owned(),
            ),
            ("JTB__MICROSOFT__CLIENT_SECRET", "s".to_owned()),
        ],
        "microsoft.client_certificate_file",
    );
}

#[test]
fn the_database_refuses_a_registration_without_a_credential_or_with_a_short_certificate() {
    let db = crate::support::db::TestDb::migrated();
    let mut c = db.conn();
    let insert = |secret: &str, certificate: &str| {
        format!(
            "INSERT INTO microsoft_app (id, cloud, tenant_id, client_id, client_secret, client_certificate, updated_by) \
             VALUES (gen_random_uuid(), 'global', 'contoso.example', gen_random_uuid(), {secret}, {certificate}, 'admin')"
        )
    };
    let blob = "decode(repeat('ab', 40), 'hex')";
    for (secret, certificate) in [("NULL", "NULL"), ("NULL", "'\\x0102'::bytea")] {
        assert!(
            diesel::sql_query(insert(secret, certificate))
                .execute(&mut c)
                .is_err(),
            "{secret} / {certificate}"
        );
    }
    diesel::sql_query(insert("NULL", blob))
        .execute(&mut c)
        .unwrap();
}

#[actix_web::test]
async fn doctor_gets_an_app_token_with_the_configured_certificate() {
    let app = crate::support::app::spawn_app().await;
    app.complete_setup().await;
    let (entra_addr, fake) = fakes::entra::start(3599);
    let (cert, key) = self_signed_rsa();
    *fake.client_certificate.lock().unwrap() = Some(cert.clone().into_bytes());
    let dir = TempDir::new();
    let file = dir.0.join("bridge.pem");
    std::fs::write(&file, format!("{cert}{key}")).unwrap();
    let ms = vec![
        (
            "JTB__MICROSOFT__TENANT_ID",
            fakes::entra::TENANT_ID.to_owned(),
        ),
        (
            "JTB__MICROSOFT__CLIENT_ID",
            fakes::entra::CLIENT_ID.to_owned(),
        ),
        (
            "JTB__MICROSOFT__CLIENT_CERTIFICATE_FILE",
            file.to_str().unwrap().to_owned(),
        ),
        ("JTB__MICROSOFT__LOGIN_URL", format!("http://{entra_addr}")),
        ("JTB__MICROSOFT__GRAPH_URL", format!("http://{entra_addr}")),
    ];
    let (_, report, _) = crate::support::cli::doctor(&app, ms).await;
    let token = crate::support::cli::check(&report, "microsoft token");
    assert_eq!(token["status"], "ok", "{report}");
    let form = fake.last_form.lock().unwrap().clone();
    assert!(form_has(&form, "client_assertion") && !form_has(&form, "client_secret"));
}
