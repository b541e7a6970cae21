//! Registered Jira Data Center instances.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::secret::{self, JIRA_SHARED_SECRET};
use crate::crypto::Vault;
use crate::db::DbError;
use crate::db::schema::jira_instance;
use crate::domain::{JiraBaseUrl, PublicId, SharedSecret};

/// A registered instance (the shared secret stays encrypted here).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = jira_instance)]
pub struct JiraInstance {
    pub id: Uuid,
    pub base_url: String,
    pub public_id: String,
    pub shared_secret: Vec<u8>,
    pub shared_secret_hint: String,
    pub webhook_secret: Option<Vec<u8>>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub secret_rotated_at: DateTime<Utc>,
    pub webhook_token_hash: Option<Vec<u8>>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<Vec<u8>>,
    /// Linked chats are shown in their Jira issue as remote links (off where the Jira plugin
    /// shows them instead).
    pub remote_links: bool,
    /// A comment "Teams chat started: …" is added to the issue when a chat is linked.
    pub remote_link_comment: bool,
}

/// Why registering an instance failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateInstanceError {
    #[error("An instance with this URL is already registered.")]
    DuplicateUrl,
    #[error(transparent)]
    Vault(#[from] crate::crypto::VaultError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl JiraInstance {
    /// Every instance, oldest first.
    pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<JiraInstance>> {
        jira_instance::table
            .order(jira_instance::created_at.asc())
            .select(JiraInstance::as_select())
            .load(conn)
    }

    /// One instance by id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<JiraInstance>> {
        jira_instance::table
            .find(id)
            .select(JiraInstance::as_select())
            .first(conn)
            .optional()
    }

    /// One instance by public ID.
    pub fn find_by_public_id(
        conn: &mut PgConnection,
        public_id: &str,
    ) -> QueryResult<Option<JiraInstance>> {
        jira_instance::table
            .filter(jira_instance::public_id.eq(public_id))
            .select(JiraInstance::as_select())
            .first(conn)
            .optional()
    }

    /// Registers an instance with a fresh public ID and the given secret (encrypted here).
    /// A public ID collision is retried with another ID; a duplicate URL is an error.
    pub fn create(
        conn: &mut PgConnection,
        vault: &Vault,
        url: &JiraBaseUrl,
        shared: &SharedSecret,
    ) -> Result<JiraInstance, CreateInstanceError> {
        for _ in 0..8 {
            let id = Uuid::new_v4();
            let public_id = PublicId::generate();
            let sealed = secret::seal(vault, JIRA_SHARED_SECRET, id, shared.expose())?;
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(jira_instance::table)
                    .values((
                        jira_instance::id.eq(id),
                        jira_instance::base_url.eq(url.as_str()),
                        jira_instance::public_id.eq(public_id.as_str()),
                        jira_instance::shared_secret.eq(&sealed),
                        jira_instance::shared_secret_hint.eq(shared.hint()),
                    ))
                    .returning(JiraInstance::as_returning())
                    .get_result(conn)
            });
            match inserted {
                Ok(row) => return Ok(row),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    info,
                )) => {
                    if info.constraint_name() == Some("jira_instance_public_id_key") {
                        continue;
                    }
                    return Err(CreateInstanceError::DuplicateUrl);
                }
                Err(e) => return Err(DbError::from(e).into()),
            }
        }
        Err(DbError::Query(diesel::result::Error::RollbackTransaction).into())
    }

    /// Replaces the shared secret (the old one stops working at once).
    pub fn replace_secret(
        conn: &mut PgConnection,
        vault: &Vault,
        id: Uuid,
        shared: &SharedSecret,
    ) -> Result<bool, CreateInstanceError> {
        let sealed = secret::seal(vault, JIRA_SHARED_SECRET, id, shared.expose())?;
        let n = diesel::update(jira_instance::table.find(id))
            .set((
                jira_instance::shared_secret.eq(sealed),
                jira_instance::shared_secret_hint.eq(shared.hint()),
                jira_instance::secret_rotated_at.eq(diesel::dsl::now),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .map_err(DbError::from)?;
        Ok(n == 1)
    }

    /// Enables or disables an instance.
    pub fn set_enabled(conn: &mut PgConnection, id: Uuid, enabled: bool) -> QueryResult<bool> {
        let n = diesel::update(jira_instance::table.find(id))
            .set((
                jira_instance::enabled.eq(enabled),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// Deletes an instance; its mappings, links, settings, tokens and queued deliveries go with it
    /// (ON DELETE CASCADE). Audit rows stay.
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        Ok(diesel::delete(jira_instance::table.find(id)).execute(conn)? == 1)
    }

    /// Sets (or with `None` removes) the webhook HMAC secret, encrypted.
    pub fn set_webhook_secret(
        conn: &mut PgConnection,
        vault: &Vault,
        id: Uuid,
        secret: Option<&str>,
    ) -> Result<bool, CreateInstanceError> {
        let sealed = secret
            .map(|s| secret::seal(vault, secret::JIRA_WEBHOOK_SECRET, id, s))
            .transpose()?;
        let n = diesel::update(jira_instance::table.find(id))
            .set((
                jira_instance::webhook_secret.eq(sealed),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .map_err(DbError::from)?;
        Ok(n == 1)
    }

    /// Sets (or with `None` removes) the hash of the webhook URL token.
    pub fn set_webhook_token_hash(
        conn: &mut PgConnection,
        id: Uuid,
        hash: Option<&[u8]>,
    ) -> QueryResult<bool> {
        let n = diesel::update(jira_instance::table.find(id))
            .set((
                jira_instance::webhook_token_hash.eq(hash),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// Sets (or with `None` removes) the Jira OAuth 2.0 incoming-link client; the secret is
    /// encrypted. A `Some((id, None))` keeps the stored secret and changes the id only.
    pub fn set_oauth_client(
        conn: &mut PgConnection,
        vault: &Vault,
        id: Uuid,
        client: Option<(&str, Option<&str>)>,
    ) -> Result<bool, CreateInstanceError> {
        // another client (or none) has not proved to work: the overview shows it untested
        let before: Option<Option<String>> = jira_instance::table
            .find(id)
            .select(jira_instance::oauth_client_id)
            .first(conn)
            .optional()
            .map_err(DbError::from)?;
        let same_client = matches!((&before, client), (Some(Some(b)), Some((c, None))) if b == c);
        if !same_client {
            super::jira_instance_setup::JiraInstanceSetup::clear_oauth_tested(conn, id)
                .map_err(DbError::from)?;
        }
        let n = match client {
            None => diesel::update(jira_instance::table.find(id))
                .set((
                    jira_instance::oauth_client_id.eq(None::<String>),
                    jira_instance::oauth_client_secret.eq(None::<Vec<u8>>),
                    jira_instance::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn),
            Some((client_id, Some(secret))) => {
                let sealed = secret::seal(vault, secret::JIRA_OAUTH_CLIENT_SECRET, id, secret)?;
                diesel::update(jira_instance::table.find(id))
                    .set((
                        jira_instance::oauth_client_id.eq(client_id),
                        jira_instance::oauth_client_secret.eq(sealed),
                        jira_instance::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
            }
            Some((client_id, None)) => diesel::update(
                jira_instance::table
                    .find(id)
                    .filter(jira_instance::oauth_client_secret.is_not_null()),
            )
            .set((
                jira_instance::oauth_client_id.eq(client_id),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn),
        }
        .map_err(DbError::from)?;
        Ok(n == 1)
    }

    /// Sets the instance's remote-link switches: linked chats shown in their Jira issue, and the
    /// "Teams chat started" comment. `false` when the instance is gone.
    pub fn set_remote_link_switches(
        conn: &mut PgConnection,
        id: Uuid,
        remote_links: bool,
        comment: bool,
    ) -> QueryResult<bool> {
        let n = diesel::update(jira_instance::table.find(id))
            .set((
                jira_instance::remote_links.eq(remote_links),
                jira_instance::remote_link_comment.eq(comment),
                jira_instance::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }
}
