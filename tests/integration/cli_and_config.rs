//! The command line and configuration errors (exit code 2, one line naming the key), also from
//! an interactive terminal, where nothing may wait for a passphrase.

use crate::support::app::{TempDir, spawn_app};
use crate::support::cli::{assert_config_error, cli_env, run_cli, run_cli_in_terminal};
use crate::support::tls::self_signed;

#[test]
fn a_bad_listen_address_exits_2_naming_the_key() {
    assert_config_error(
        &["check-config"],
        &[("JTB__LISTEN__INTERNAL", "not-an-address".into())],
        "listen.internal",
    );
}

#[test]
fn a_non_number_pool_size_exits_2_naming_the_key() {
    assert_config_error(
        &["check-config"],
        &[("JTB__DATABASE__POOL_MAX_SIZE", "lots".into())],
        "pool_max_size",
    );
}

#[test]
fn an_unknown_key_in_the_file_exits_2_naming_it() {
    let dir = TempDir::new();
    let file = dir.0.join("config.toml");
    std::fs::write(
        &file,
        "[listen]\ninternal = \"127.0.0.1:8080\"\ninternl_url = \"x\"\n",
    )
    .unwrap();
    assert_config_error(
        &["--config", file.to_str().unwrap(), "check-config"],
        &[],
        "internl_url",
    );
}

#[test]
fn an_unknown_cloud_exits_2_naming_the_key() {
    assert_config_error(
        &["check-config"],
        &[("JTB__MICROSOFT__CLOUD", "mars".into())],
        "microsoft.cloud",
    );
}

#[test]
fn a_missing_config_file_exits_2() {
    assert_config_error(
        &["--config", "/nonexistent/jtb.toml", "check-config"],
        &[],
        "--config",
    );
}

#[test]
fn serve_with_a_bad_value_exits_2_before_binding() {
    // the port is taken: binding first would fail with exit 1 "cannot listen"
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = TempDir::new();
    let cert = dir.0.join("cert.pem");
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, _, stderr) = run_cli(
        &["serve"],
        &[
            ("JTB__LISTEN__INTERNAL", addr),
            (
                "JTB__LISTEN__INTERNAL_TLS_CERT_FILE",
                cert.display().to_string(),
            ),
            (
                "JTB__LISTEN__INTERNAL_TLS_KEY_FILE",
                cert.display().to_string(),
            ),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("listen.internal_tls_cert_file"), "{stderr}");
    assert!(!stderr.contains("cannot listen"), "{stderr}");
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = TempDir::new();
    let file = dir.0.join("config.toml");
    std::fs::write(&file, "[listen]\ninternal = \"127.0.0.1:9000\"\n").unwrap();
    let (code, stdout, _) = run_cli(&["--config", file.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("listen.internal = 127.0.0.1:9000"),
        "{stdout}"
    );
    let (code, stdout, _) = run_cli(
        &["--config", file.to_str().unwrap(), "check-config"],
        &[("JTB__LISTEN__INTERNAL", "127.0.0.1:9001".into())],
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("listen.internal = 127.0.0.1:9001"),
        "{stdout}"
    );
}

#[test]
fn serve_without_a_reachable_database_fails_with_a_clear_message() {
    let dir = TempDir::new();
    let (code, _, stderr) = run_cli(
        &["serve"],
        &[
            ("JTB__LISTEN__INTERNAL", "127.0.0.1:0".into()),
            ("JTB__PATHS__STATE_DIR", dir.0.display().to_string()),
            (
                "JTB__DATABASE__URL",
                "postgresql://nobody@127.0.0.1:1/none".into(),
            ),
            ("JTB__DATABASE__CONNECT_TIMEOUT_SECS", "1".into()),
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot connect to PostgreSQL"), "{stderr}");
}

#[actix_web::test]
async fn setup_url_prints_the_pending_url_then_says_setup_is_done() {
    let app = spawn_app().await;
    let (code, stdout, stderr) = run_cli(&["setup-url"], &cli_env(&app));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout
            .trim()
            .ends_with(&format!("/setup?token={}", app.setup_token())),
        "{stdout}"
    );
    app.complete_setup().await;
    let (code, stdout, _) = run_cli(&["setup-url"], &cli_env(&app));
    assert_eq!(code, 0);
    assert!(stdout.contains("Setup is complete"), "{stdout}");
}

#[test]
fn serve_tells_systemd_it_is_ready_pings_the_watchdog_and_stops_cleanly_on_sigterm() {
    use std::os::unix::net::UnixDatagram;
    let db = crate::support::db::TestDb::migrated();
    let dir = TempDir::new();
    let socket_path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let empty = dir.0.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jira-teams-bridge"))
        .args(["--config", empty.to_str().unwrap(), "serve"])
        .env("JTB__DATABASE__URL", &db.url)
        .env("JTB__PATHS__STATE_DIR", dir.0.join("state"))
        .env("JTB__LISTEN__INTERNAL", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let mut messages = Vec::new();
    while !messages.iter().any(|m: &String| m.contains("WATCHDOG=1")) {
        let n = socket.recv(&mut buf).expect("a notification within 20 s");
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(messages[0].starts_with("READY=1"), "{messages:?}");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    loop {
        let n = socket.recv(&mut buf).expect("STOPPING within 20 s");
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
}

#[test]
fn an_encrypted_key_is_refused_at_once_naming_the_fix_even_with_a_terminal_to_prompt_on() {
    use openssl::symm::Cipher;
    let dir = TempDir::new();
    let (cert, key, cert_pem) = self_signed(&dir.0);
    let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(key).unwrap()).unwrap();
    let encodings = [
        (
            "pkcs8",
            key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret")
                .unwrap(),
        ),
        (
            "traditional",
            key.rsa()
                .unwrap()
                .private_key_to_pem_passphrase(Cipher::aes_256_cbc(), b"secret")
                .unwrap(),
        ),
    ];
    for (encoding, encrypted) in encodings {
        let key_file = dir.0.join(format!("{encoding}-key.pem"));
        std::fs::write(&key_file, &encrypted).unwrap();
        let bundle = dir.0.join(format!("{encoding}-bundle.pem"));
        std::fs::write(&bundle, [cert_pem.clone(), encrypted].concat()).unwrap();
        let settings = [
            (
                "microsoft.client_certificate_file",
                vec![(
                    "JTB__MICROSOFT__CLIENT_CERTIFICATE_FILE",
                    bundle.display().to_string(),
                )],
            ),
            (
                "listen.internal_tls_key_file",
                vec![
                    ("JTB__LISTEN__INTERNAL_TLS_CERT_FILE", cert.clone()),
                    (
                        "JTB__LISTEN__INTERNAL_TLS_KEY_FILE",
                        key_file.display().to_string(),
                    ),
                ],
            ),
        ];
        for (setting, env) in &settings {
            for command in ["check-config", "serve"] {
                let Some(run) =
                    run_cli_in_terminal(&[command], env, std::time::Duration::from_secs(30))
                else {
                    println!("note: util-linux `script` is not installed; skipped");
                    return;
                };
                let what = format!("{command} with an encrypted {encoding} key in {setting}");
                assert_eq!(
                    run.code,
                    Some(2),
                    "{what}: still running after 30 s (waiting for a passphrase?) or wrong exit; terminal: {}",
                    run.screen
                );
                for needed in [*setting, "encrypted", "openssl pkey -in"] {
                    assert!(
                        run.screen.contains(needed),
                        "{what}: {needed:?} in {}",
                        run.screen
                    );
                }
                assert!(
                    !run.screen.to_lowercase().contains("pass phrase"),
                    "{what}: prompted: {}",
                    run.screen
                );
            }
        }
    }
}
