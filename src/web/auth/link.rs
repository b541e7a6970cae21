//! Sign-in links for a Jira user: `/auth/start?t=<claims>.<mac>`, signed with a key derived from
//! the master key, valid for ten minutes and (through the flow table) usable once. The link names
//! the instance and Jira user it was made for; the Jira leg of the sign-in must prove it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::Vault;
use crate::crypto::random::constant_time_eq;

/// How long a sign-in link works.
pub const LINK_TTL_SECS: i64 = 600;
const PURPOSE: &str = "sign-in-link";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkClaims {
    /// Jira instance id.
    pub i: Uuid,
    /// Jira user key.
    pub u: String,
    /// Expiry (Unix seconds).
    pub e: i64,
    /// Random, so two links for the same user differ (each is single use).
    pub n: String,
}

/// The `t` value of a new link.
pub fn make(vault: &Vault, instance: Uuid, user_key: &str, now: i64) -> anyhow::Result<String> {
    let claims = LinkClaims {
        i: instance,
        u: user_key.to_owned(),
        e: now + LINK_TTL_SECS,
        n: crate::crypto::random::token(9),
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?);
    let mac = vault.mac(PURPOSE, body.as_bytes())?;
    Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac)))
}

/// Why a link was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("This sign-in link is damaged. Start again from Jira.")]
    Malformed,
    #[error("This sign-in link has expired. Start again from Jira.")]
    Expired,
}

/// Checks a link's signature and expiry.
pub fn verify(vault: &Vault, t: &str, now: i64) -> Result<LinkClaims, LinkError> {
    let (body, mac) = t.split_once('.').ok_or(LinkError::Malformed)?;
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| LinkError::Malformed)?;
    let expected = vault
        .mac(PURPOSE, body.as_bytes())
        .map_err(|_| LinkError::Malformed)?;
    if !constant_time_eq(&mac, &expected) {
        return Err(LinkError::Malformed);
    }
    let claims: LinkClaims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(LinkError::Malformed)?;
    if claims.e < now {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keyring;

    #[test]
    fn links_verify_until_they_expire_and_not_after_tampering() {
        let vault = Vault::from_keyring(Keyring::generate());
        let id = Uuid::new_v4();
        let t = make(&vault, id, "JIRAUSER10100", 1_000).unwrap();
        let c = verify(&vault, &t, 1_500).unwrap();
        assert_eq!((c.i, c.u.as_str()), (id, "JIRAUSER10100"));
        assert_eq!(verify(&vault, &t, 1_601), Err(LinkError::Expired));
        // another user's key in the body breaks the signature
        let (body, mac) = t.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap())
                .unwrap()
                .replace("JIRAUSER10100", "admin"),
        );
        assert_eq!(
            verify(&vault, &format!("{forged}.{mac}"), 1_500),
            Err(LinkError::Malformed)
        );
        let other = Vault::from_keyring(Keyring::generate());
        assert_eq!(verify(&other, &t, 1_500), Err(LinkError::Malformed));
        assert_eq!(verify(&vault, "nodot", 1_500), Err(LinkError::Malformed));
    }
}
