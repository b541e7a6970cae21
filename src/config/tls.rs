//! The listeners' TLS files: checked as a pair at validation, loaded into rustls at start.

use std::path::Path;

use super::ConfigError;

pub(super) fn check_tls_pair(key: &str, cert: &str, private_key: &str) -> Result<(), ConfigError> {
    match (cert.is_empty(), private_key.is_empty()) {
        (true, true) => Ok(()),
        (false, false) => {
            for (suffix, file) in [("cert_file", cert), ("key_file", private_key)] {
                if !Path::new(file).is_file() {
                    return Err(ConfigError::new(
                        &format!("{key}_{suffix}"),
                        format!("{file} does not exist"),
                    ));
                }
            }
            load_tls(cert, private_key)
                .map(|_| ())
                .map_err(|e| ConfigError::new(&format!("{key}_cert_file"), format!("{e:#}")))
        }
        _ => Err(ConfigError::new(
            &format!("{key}_cert_file"),
            "cert_file and key_file must be set together",
        )),
    }
}

/// Loads a PEM certificate chain and private key into a rustls server configuration.
pub fn load_tls(cert: &str, key: &str) -> anyhow::Result<rustls::ServerConfig> {
    use anyhow::Context;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {cert}"))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad PEM in TLS certificate {cert}"))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {cert}");
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read TLS private key {key}"))?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not fit together")
}
