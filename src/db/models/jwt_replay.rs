//! Single use of Jira app tokens for state-changing calls.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::jwt_replay;

/// The replay cache.
pub struct JwtReplay;

impl JwtReplay {
    /// Records a token's use; false when it was used before. Expired entries are dropped now and
    /// then on the way.
    pub fn claim(
        conn: &mut PgConnection,
        token_hash: &[u8],
        instance: Uuid,
        expires_at: DateTime<Utc>,
    ) -> QueryResult<bool> {
        if token_hash.first().is_some_and(|b| *b < 4) {
            // about one call in 64 sweeps what has expired
            diesel::delete(jwt_replay::table.filter(jwt_replay::expires_at.lt(Utc::now())))
                .execute(conn)?;
        }
        let n = diesel::insert_into(jwt_replay::table)
            .values((
                jwt_replay::token_hash.eq(token_hash),
                jwt_replay::jira_instance_id.eq(instance),
                jwt_replay::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        Ok(n == 1)
    }
}
