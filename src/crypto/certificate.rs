//! A client certificate for Entra ID (certificate credentials, PROTOCOLS.md §1.2/§1.4): one PEM
//! holding an X.509 certificate and its RSA private key, parsed into the RS256 signing key and the
//! thumbprints a client assertion names (`x5t`, `x5t#S256`). Lives here rather than in
//! `clients/` because `config` validates `microsoft.client_certificate_file` at start and may
//! not import clients. Pure: no IO. Never echoes the PEM, not even in errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::X509;
use zeroize::Zeroize;

/// Why a PEM is not a usable client certificate. The messages name what is missing, never
/// the PEM's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("no certificate: the PEM must contain a -----BEGIN CERTIFICATE----- block")]
    NoCertificate,
    #[error(
        "no private key: the PEM must also contain the certificate's unencrypted private key (-----BEGIN PRIVATE KEY-----)"
    )]
    NoPrivateKey,
    #[error(
        "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem) and use the plain key"
    )]
    EncryptedKey,
    #[error("the key is not RSA: Entra ID client assertions are signed with RS256")]
    NotRsa,
    #[error("the key does not match the certificate")]
    KeyMismatch,
}

/// A parsed client certificate: what signs client assertions and what names the certificate.
pub struct CertificateCredential {
    key: EncodingKey,
    /// SHA-1 thumbprint, base64url (the `x5t` header Entra ID looks the certificate up by).
    pub x5t: String,
    /// SHA-256 thumbprint, base64url (`x5t#S256`).
    pub x5t_s256: String,
    /// SHA-1 thumbprint as upper-case hex, as the Entra admin centre lists it.
    pub thumbprint_hex: String,
    /// The subject, e.g. `CN=jira-teams-bridge`.
    pub subject: String,
    /// The end of validity, e.g. `Nov 25 10:00:00 2027 GMT`.
    pub not_after: String,
}

impl std::fmt::Debug for CertificateCredential {
    // the signing key stays out of logs; the thumbprint is public (it is in every assertion)
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t", &self.x5t)
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// Parses one PEM holding the certificate (a chain may follow; the certificate is the one
    /// the key belongs to) and its private key, in any order.
    pub fn from_pem(pem: &[u8]) -> Result<CertificateCredential, CertificateError> {
        let certs = X509::stack_from_pem(pem).unwrap_or_default();
        if certs.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        let key = private_key(pem)?;
        if key.id() != Id::RSA {
            return Err(CertificateError::NotRsa);
        }
        let cert = certs
            .into_iter()
            .find(|c| c.public_key().is_ok_and(|p| p.public_eq(&key)))
            .ok_or(CertificateError::KeyMismatch)?;
        let rsa = key.rsa().map_err(|_| CertificateError::NotRsa)?;
        let mut der = rsa
            .private_key_to_der()
            .map_err(|_| CertificateError::NoPrivateKey)?;
        let encoding = EncodingKey::from_rsa_der(&der);
        der.zeroize();
        let digest = |md| {
            cert.digest(md)
                .map(|d| d.to_vec())
                .map_err(|_| CertificateError::NoCertificate)
        };
        let sha1 = digest(MessageDigest::sha1())?;
        let sha256 = digest(MessageDigest::sha256())?;
        Ok(CertificateCredential {
            key: encoding,
            x5t: URL_SAFE_NO_PAD.encode(&sha1),
            x5t_s256: URL_SAFE_NO_PAD.encode(&sha256),
            thumbprint_hex: hex::encode_upper(&sha1),
            subject: subject(&cert),
            not_after: cert.not_after().to_string(),
        })
    }

    /// The RS256 signing key.
    pub fn signing_key(&self) -> &EncodingKey {
        &self.key
    }
}

fn private_key(pem: &[u8]) -> Result<PKey<Private>, CertificateError> {
    // Never the plain `private_key_from_pem`: on an encrypted key OpenSSL's default passphrase
    // callback asks on /dev/tty, and `serve` or `check-config` started from a shell (or the
    // test suite in a terminal) waits there forever. This callback offers no passphrase, so
    // decryption fails at once.
    if let Ok(k) = PKey::private_key_from_pem_callback(pem, |_passphrase| Ok(0)) {
        return Ok(k);
    }
    if is_encrypted_key(pem) {
        return Err(CertificateError::EncryptedKey);
    }
    Err(CertificateError::NoPrivateKey)
}

/// True when `pem` holds an encrypted private key: PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) or
/// the traditional form with a `Proc-Type: 4,ENCRYPTED` header.
pub fn is_encrypted_key(pem: &[u8]) -> bool {
    pem.windows(9).any(|w| w == b"ENCRYPTED")
}

fn subject(cert: &X509) -> String {
    cert.subject_name()
        .entries()
        .map(|e| {
            let name = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    /// A self-signed certificate for `key`, PEM.
    pub(crate) fn cert_for(key: &PKey<Private>) -> Vec<u8> {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "jira-teams-bridge test")
            .unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build().to_pem().unwrap()
    }

    pub(crate) fn rsa_key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    /// Certificate + private key in one PEM, and the key.
    pub(crate) fn bundle() -> (Vec<u8>, PKey<Private>) {
        let key = rsa_key();
        let mut pem = cert_for(&key);
        pem.extend(key.private_key_to_pem_pkcs8().unwrap());
        (pem, key)
    }

    #[test]
    fn a_certificate_with_its_key_parses_with_both_thumbprints() {
        let (pem, _) = bundle();
        let c = CertificateCredential::from_pem(&pem).unwrap();
        let cert = X509::from_pem(&pem).unwrap();
        let sha1 = cert.digest(MessageDigest::sha1()).unwrap();
        assert_eq!(c.x5t, URL_SAFE_NO_PAD.encode(&*sha1));
        assert_eq!(c.thumbprint_hex, hex::encode_upper(&*sha1));
        assert_eq!(c.x5t_s256.len(), 43);
        assert_eq!(c.subject, "CN=jira-teams-bridge test");
        assert!(c.not_after.ends_with("GMT"));
        let debug = format!("{c:?}");
        assert!(!debug.contains("PRIVATE") && !debug.contains("key:"));
    }

    #[test]
    fn the_key_may_come_first_and_in_pkcs1_form() {
        let key = rsa_key();
        let mut pem = key.rsa().unwrap().private_key_to_pem().unwrap();
        pem.extend(cert_for(&key));
        assert!(CertificateCredential::from_pem(&pem).is_ok());
    }

    #[test]
    fn each_missing_piece_is_named() {
        let (pem, key) = bundle();
        let cert_only = cert_for(&key);
        let key_only = key.private_key_to_pem_pkcs8().unwrap();
        let err = |p: &[u8]| CertificateCredential::from_pem(p).unwrap_err();
        assert_eq!(err(&cert_only), CertificateError::NoPrivateKey);
        assert_eq!(err(&key_only), CertificateError::NoCertificate);
        assert_eq!(err(b"garbage"), CertificateError::NoCertificate);
        let mut mismatched = cert_for(&key);
        mismatched.extend(rsa_key().private_key_to_pem_pkcs8().unwrap());
        assert_eq!(err(&mismatched), CertificateError::KeyMismatch);
        let encrypted = key
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        let mut enc = cert_for(&key);
        enc.extend(encrypted);
        assert_eq!(err(&enc), CertificateError::EncryptedKey);
        // the traditional form (Proc-Type: 4,ENCRYPTED), as `openssl genrsa -aes256` writes it
        let traditional = key
            .rsa()
            .unwrap()
            .private_key_to_pem_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        let mut enc = cert_for(&key);
        enc.extend(traditional);
        assert_eq!(err(&enc), CertificateError::EncryptedKey);
        assert!(err(&enc).to_string().contains("openssl pkey -in"));
        let ec = PKey::from_ec_key(
            openssl::ec::EcKey::generate(
                &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut ec_pem = cert_for(&ec);
        ec_pem.extend(ec.private_key_to_pem_pkcs8().unwrap());
        assert_eq!(err(&ec_pem), CertificateError::NotRsa);
        // the messages never carry the PEM
        for e in [err(&cert_only), err(&mismatched)] {
            assert!(!e.to_string().contains("MII"));
        }
        drop(pem);
    }
}
