//! Admin sessions: only the SHA-256 of the cookie token is stored; idle and absolute expiry.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::admin_session;

/// A live admin session.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_session)]
pub struct AdminSession {
    pub id: Uuid,
    pub token_hash: Vec<u8>,
    pub admin_user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl AdminSession {
    /// Starts a session that ends at `now + absolute` at the latest.
    pub fn create(
        conn: &mut PgConnection,
        admin_user_id: Uuid,
        token_hash: &[u8],
        absolute: Duration,
    ) -> QueryResult<AdminSession> {
        let now = Utc::now();
        diesel::insert_into(admin_session::table)
            .values((
                admin_session::id.eq(Uuid::new_v4()),
                admin_session::token_hash.eq(token_hash),
                admin_session::admin_user_id.eq(admin_user_id),
                admin_session::created_at.eq(now),
                admin_session::last_seen_at.eq(now),
                admin_session::expires_at.eq(now + absolute),
            ))
            .returning(AdminSession::as_returning())
            .get_result(conn)
    }

    /// The session for a token if it is neither idle-expired nor past its absolute end; marks it
    /// seen. Expired sessions are deleted.
    pub fn find_live(
        conn: &mut PgConnection,
        token_hash: &[u8],
        idle: Duration,
    ) -> QueryResult<Option<AdminSession>> {
        let now = Utc::now();
        let found: Option<AdminSession> = admin_session::table
            .filter(admin_session::token_hash.eq(token_hash))
            .select(AdminSession::as_select())
            .first(conn)
            .optional()?;
        let Some(session) = found else {
            return Ok(None);
        };
        if session.expires_at <= now || session.last_seen_at + idle <= now {
            diesel::delete(admin_session::table.find(session.id)).execute(conn)?;
            return Ok(None);
        }
        diesel::update(admin_session::table.find(session.id))
            .set(admin_session::last_seen_at.eq(now))
            .execute(conn)?;
        Ok(Some(session))
    }

    /// Ends a session.
    pub fn delete_by_token(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<usize> {
        diesel::delete(admin_session::table.filter(admin_session::token_hash.eq(token_hash)))
            .execute(conn)
    }

    /// Removes sessions past their absolute end or idle for longer than `idle`.
    pub fn purge_expired(conn: &mut PgConnection, idle: Duration) -> QueryResult<usize> {
        let now = Utc::now();
        diesel::delete(
            admin_session::table.filter(
                admin_session::expires_at
                    .le(now)
                    .or(admin_session::last_seen_at.le(now - idle)),
            ),
        )
        .execute(conn)
    }
}
