//! The Microsoft app registration entered in the admin UI (one row). Values pinned in
//! `config.toml` win over it; see `state::MicrosoftConfig`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::secret::{self, MICROSOFT_CLIENT_CERTIFICATE, MICROSOFT_CLIENT_SECRET};
use crate::crypto::{Vault, VaultError};
use crate::db::schema::microsoft_app;

/// The stored registration (its credential, a client secret or a certificate, stays encrypted
/// here; exactly one is kept).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = microsoft_app)]
pub struct MicrosoftApp {
    pub id: Uuid,
    pub cloud: String,
    pub tenant_id: String,
    pub client_id: Uuid,
    pub client_secret: Option<Vec<u8>>,
    pub bot_app_id: Option<Uuid>,
    pub teams_app_catalog_id: Option<String>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// Sealed PEM (certificate + private key), when the app authenticates with a certificate.
    pub client_certificate: Option<Vec<u8>>,
}

/// What the admin page saves. `client_secret` and `client_certificate_pem` both `None` keep the
/// stored credential; a new one replaces the other kind (the credential entered last is used).
#[derive(Debug, Clone)]
pub struct MicrosoftAppForm<'a> {
    pub cloud: &'a str,
    pub tenant_id: &'a str,
    pub client_id: Uuid,
    pub client_secret: Option<&'a str>,
    /// A validated PEM holding the certificate and its private key.
    pub client_certificate_pem: Option<&'a str>,
    pub bot_app_id: Option<Uuid>,
    pub teams_app_catalog_id: Option<&'a str>,
}

impl MicrosoftApp {
    /// The stored registration, if any.
    pub fn get(conn: &mut PgConnection) -> QueryResult<Option<MicrosoftApp>> {
        microsoft_app::table
            .select(MicrosoftApp::as_select())
            .first(conn)
            .optional()
    }

    /// Creates or updates the registration in one statement.
    pub fn save(
        conn: &mut PgConnection,
        vault: &Vault,
        form: &MicrosoftAppForm<'_>,
        by: &str,
    ) -> Result<MicrosoftApp, SaveError> {
        conn.transaction(|conn| {
            let existing = MicrosoftApp::get(conn)?;
            let id = existing.as_ref().map(|e| e.id).unwrap_or_else(Uuid::new_v4);
            // an admin switching credential kinds expects the old one gone, not a fallback
            let (sealed, sealed_cert) = match (form.client_secret, form.client_certificate_pem) {
                (Some(s), _) => (
                    Some(secret::seal(vault, MICROSOFT_CLIENT_SECRET, id, s)?),
                    None,
                ),
                (None, Some(pem)) => (
                    None,
                    Some(secret::seal(vault, MICROSOFT_CLIENT_CERTIFICATE, id, pem)?),
                ),
                (None, None) => existing
                    .map(|e| (e.client_secret, e.client_certificate))
                    .unwrap_or_default(),
            };
            let values = (
                microsoft_app::cloud.eq(form.cloud),
                microsoft_app::tenant_id.eq(form.tenant_id),
                microsoft_app::client_id.eq(form.client_id),
                microsoft_app::client_secret.eq(&sealed),
                microsoft_app::client_certificate.eq(&sealed_cert),
                microsoft_app::bot_app_id.eq(form.bot_app_id),
                microsoft_app::teams_app_catalog_id.eq(form.teams_app_catalog_id),
                microsoft_app::updated_by.eq(by),
                microsoft_app::updated_at.eq(diesel::dsl::now),
            );
            Ok(diesel::insert_into(microsoft_app::table)
                .values((microsoft_app::id.eq(id), values))
                .on_conflict(microsoft_app::id)
                .do_update()
                .set(values)
                .returning(MicrosoftApp::as_returning())
                .get_result(conn)?)
        })
    }
}

/// Why saving failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}
