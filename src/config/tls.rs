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
            // an encrypted key is the key file's fault, not the certificate's
            let encrypted = std::fs::read(private_key)
                .map(zeroize::Zeroizing::new)
                .is_ok_and(|pem| crate::crypto::certificate::is_encrypted_key(&pem));
            let suffix = if encrypted { "key_file" } else { "cert_file" };
            load_tls(cert, private_key)
                .map(|_| ())
                .map_err(|e| ConfigError::new(&format!("{key}_{suffix}"), format!("{e:#}")))
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
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read(key).with_context(|| format!("cannot read TLS private key {key}"))?,
    );
    // rustls reads PEM itself and never prompts, but an encrypted key would only show up as
    // "no key" or a mismatch: name the cause and the remedy
    if crate::crypto::certificate::is_encrypted_key(&key_pem) {
        anyhow::bail!(
            "the TLS private key {key} is encrypted: decrypt it first (openssl pkey -in {key} -out plain.pem) and point key_file at the plain key"
        );
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("no private key in TLS private key file {key}"))?;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not fit together")
}
