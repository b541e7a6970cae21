//! Per-user OAuth tokens (Microsoft and Jira). Token columns are vault ciphertexts sealed for the
//! row; reading them goes through `secret::read`. A refresh lease serialises refreshes of one
//! token across daemons sharing the database.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::secret::{self, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::crypto::{Vault, VaultError};
use crate::db::schema::access_token;

/// Kind of a per-user Microsoft token.
pub const MICROSOFT_USER: &str = "microsoft_user";
/// Kind of a per-user Jira token.
pub const JIRA_USER: &str = "jira_user";

/// A token row without its secrets.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = access_token)]
pub struct TokenRow {
    pub id: Uuid,
    pub kind: String,
    pub user_mapping_id: Option<Uuid>,
    pub scopes: String,
    pub token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Fresh tokens from a token endpoint, in clear (sealed on write).
#[derive(Debug)]
pub struct TokenSet<'a> {
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
    pub scopes: &'a str,
}

/// Why a token write failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenWriteError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl TokenRow {
    /// The user's token of `kind`, if any.
    pub fn find(
        conn: &mut PgConnection,
        kind: &str,
        mapping: Uuid,
    ) -> QueryResult<Option<TokenRow>> {
        access_token::table
            .filter(access_token::kind.eq(kind))
            .filter(access_token::user_mapping_id.eq(mapping))
            .select(TokenRow::as_select())
            .first(conn)
            .optional()
    }

    /// Stores the user's tokens of `kind`, replacing earlier ones; access and refresh token are
    /// written in one statement (rotation is atomic). A missing refresh token in `set` keeps
    /// none: the endpoint decides.
    pub fn store(
        conn: &mut PgConnection,
        vault: &Vault,
        kind: &str,
        mapping: Uuid,
        instance: Option<Uuid>,
        ms_tenant: Option<Uuid>,
        set: &TokenSet<'_>,
    ) -> Result<TokenRow, TokenWriteError> {
        let id = TokenRow::find(conn, kind, mapping)?
            .map(|r| r.id)
            .unwrap_or_else(Uuid::new_v4);
        let token = secret::seal(vault, ACCESS_TOKEN, id, set.access_token)?;
        let refresh = set
            .refresh_token
            .map(|r| secret::seal(vault, REFRESH_TOKEN, id, r))
            .transpose()?;
        // no refresh token in the answer keeps the stored one (the endpoint did not rotate it)
        let keep = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Bytea>>(
            "COALESCE(excluded.refresh_token, access_token.refresh_token)",
        );
        let values = (
            access_token::token.eq(&token),
            access_token::expires_at.eq(set.expires_at),
            access_token::scopes.eq(set.scopes),
            access_token::updated_at.eq(diesel::dsl::now),
            access_token::refresh_lease_until.eq(None::<DateTime<Utc>>),
        );
        Ok(diesel::insert_into(access_token::table)
            .values((
                access_token::id.eq(id),
                access_token::kind.eq(kind),
                access_token::user_mapping_id.eq(mapping),
                access_token::jira_instance_id.eq(instance),
                access_token::ms_tenant_id.eq(ms_tenant),
                access_token::refresh_token.eq(&refresh),
                values,
            ))
            .on_conflict(access_token::id)
            .do_update()
            .set((values, access_token::refresh_token.eq(keep)))
            .returning(TokenRow::as_returning())
            .get_result(conn)?)
    }

    /// Takes the refresh lease for `lease_secs`; `false` while another refresher holds it.
    pub fn take_lease(conn: &mut PgConnection, id: Uuid, lease_secs: i64) -> QueryResult<bool> {
        let n = diesel::sql_query(
            "UPDATE access_token SET refresh_lease_until = now() + make_interval(secs => $2) \
             WHERE id = $1 AND (refresh_lease_until IS NULL OR refresh_lease_until < now())",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<diesel::sql_types::Double, _>(lease_secs as f64)
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Gives the lease back without new tokens (the refresh failed).
    pub fn release_lease(conn: &mut PgConnection, id: Uuid) -> QueryResult<()> {
        diesel::update(access_token::table.find(id))
            .set(access_token::refresh_lease_until.eq(None::<DateTime<Utc>>))
            .execute(conn)?;
        Ok(())
    }
}
