//! Sessions of Jira users signed in with Jira on the appliance's own pages
//! (`/jira/{public_id}/…`): only the SHA-256 of the cookie token is stored, the Jira tokens are
//! sealed for the row, and a session ends when idle too long or at its absolute end. One per
//! browser and instance; separate from admin sessions.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::crypto::{Vault, VaultError};
use crate::db::models::secret::{self, JIRA_SESSION_REFRESH_TOKEN, JIRA_SESSION_TOKEN};
use crate::db::schema::jira_user_session;

/// A Jira user's session (its tokens stay sealed here; read them through `secret::read`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jira_user_session)]
pub struct JiraUserSession {
    pub id: Uuid,
    pub token_hash: Vec<u8>,
    pub jira_instance_id: Uuid,
    pub jira_user_key: String,
    pub jira_user_name: String,
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a new session holds.
#[derive(Debug)]
pub struct NewJiraUserSession<'a> {
    pub token_hash: &'a [u8],
    pub instance: Uuid,
    pub jira_user_key: &'a str,
    pub jira_user_name: &'a str,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub token_expires_at: DateTime<Utc>,
    pub absolute: Duration,
}

/// Why a session could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SessionWriteError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// A session's last-seen time is written at most this often (a page view is not a write).
const TOUCH_EVERY_SECS: i64 = 60;

impl JiraUserSession {
    /// Starts a session, its tokens sealed for the new row.
    pub fn create(
        conn: &mut PgConnection,
        vault: &Vault,
        new: &NewJiraUserSession<'_>,
    ) -> Result<JiraUserSession, SessionWriteError> {
        let id = Uuid::new_v4();
        let access = secret::seal(vault, JIRA_SESSION_TOKEN, id, new.access_token)?;
        let refresh = new
            .refresh_token
            .map(|r| secret::seal(vault, JIRA_SESSION_REFRESH_TOKEN, id, r))
            .transpose()?;
        let now = Utc::now();
        Ok(diesel::insert_into(jira_user_session::table)
            .values((
                jira_user_session::id.eq(id),
                jira_user_session::token_hash.eq(new.token_hash),
                jira_user_session::jira_instance_id.eq(new.instance),
                jira_user_session::jira_user_key.eq(new.jira_user_key),
                jira_user_session::jira_user_name.eq(new.jira_user_name),
                jira_user_session::access_token.eq(access),
                jira_user_session::refresh_token.eq(refresh),
                jira_user_session::token_expires_at.eq(new.token_expires_at),
                jira_user_session::created_at.eq(now),
                jira_user_session::last_seen_at.eq(now),
                jira_user_session::expires_at.eq(now + new.absolute),
            ))
            .returning(JiraUserSession::as_returning())
            .get_result(conn)?)
    }

    /// The live session of `instance` for a cookie token's hash, marked seen; an expired one
    /// (idle for `idle`, or past its absolute end) is deleted and `None` returned.
    pub fn find_live(
        conn: &mut PgConnection,
        instance: Uuid,
        token_hash: &[u8],
        idle: Duration,
    ) -> QueryResult<Option<JiraUserSession>> {
        let now = Utc::now();
        let found: Option<JiraUserSession> = jira_user_session::table
            .filter(jira_user_session::token_hash.eq(token_hash))
            .filter(jira_user_session::jira_instance_id.eq(instance))
            .select(JiraUserSession::as_select())
            .first(conn)
            .optional()?;
        let Some(session) = found else {
            return Ok(None);
        };
        if session.expires_at <= now || session.last_seen_at + idle <= now {
            diesel::delete(jira_user_session::table.find(session.id)).execute(conn)?;
            return Ok(None);
        }
        // never less often than half the idle limit, or an active session could lapse
        let every = Duration::seconds(TOUCH_EVERY_SECS).min(idle / 2);
        if session.last_seen_at + every <= now {
            diesel::update(jira_user_session::table.find(session.id))
                .set(jira_user_session::last_seen_at.eq(now))
                .execute(conn)?;
        }
        Ok(Some(session))
    }

    /// One session by id (for reading its tokens again after a refresh).
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<JiraUserSession>> {
        jira_user_session::table
            .find(id)
            .select(JiraUserSession::as_select())
            .first(conn)
            .optional()
    }

    /// Stores refreshed tokens, unless another request refreshed them first (the token it saw
    /// expiring, `seen_expiry`, is no longer the stored one); returns whether it stored them.
    pub fn store_refreshed(
        conn: &mut PgConnection,
        vault: &Vault,
        id: Uuid,
        seen_expiry: DateTime<Utc>,
        access_token: &str,
        refresh_token: Option<&str>,
        token_expires_at: DateTime<Utc>,
    ) -> Result<bool, SessionWriteError> {
        let access = secret::seal(vault, JIRA_SESSION_TOKEN, id, access_token)?;
        let refresh = refresh_token
            .map(|r| secret::seal(vault, JIRA_SESSION_REFRESH_TOKEN, id, r))
            .transpose()?;
        let row = jira_user_session::table
            .find(id)
            .filter(jira_user_session::token_expires_at.eq(seen_expiry));
        // an answer without a new refresh token leaves the stored one in place
        let n = match refresh {
            Some(refresh) => diesel::update(row)
                .set((
                    jira_user_session::access_token.eq(access),
                    jira_user_session::refresh_token.eq(refresh),
                    jira_user_session::token_expires_at.eq(token_expires_at),
                ))
                .execute(conn)?,
            None => diesel::update(row)
                .set((
                    jira_user_session::access_token.eq(access),
                    jira_user_session::token_expires_at.eq(token_expires_at),
                ))
                .execute(conn)?,
        };
        Ok(n == 1)
    }

    /// Ends one session (sign-out, or Jira refused its token).
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        Ok(diesel::delete(jira_user_session::table.find(id)).execute(conn)? == 1)
    }

    /// Ends the session of `instance` whose cookie token has this hash (sign-out).
    pub fn delete_by_token(
        conn: &mut PgConnection,
        instance: Uuid,
        token_hash: &[u8],
    ) -> QueryResult<bool> {
        let n = diesel::delete(
            jira_user_session::table
                .filter(jira_user_session::jira_instance_id.eq(instance))
                .filter(jira_user_session::token_hash.eq(token_hash)),
        )
        .execute(conn)?;
        Ok(n == 1)
    }

    /// it, so a user who signed in and left keeps nothing, their Jira token included).
    pub fn purge_expired(conn: &mut PgConnection, idle: Duration) -> QueryResult<usize> {
        let now = Utc::now();
        diesel::delete(
            jira_user_session::table.filter(
                jira_user_session::expires_at
                    .le(now)
                    .or(jira_user_session::last_seen_at.le(now - idle)),
            ),
        )
        .execute(conn)
    }
}
