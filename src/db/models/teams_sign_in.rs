//! Jira accounts linked from Teams (PROTOCOLS.md §6.4): the one-time URL `link` hands out, bound
//! to the Teams user who asked, and the code that user must send back before the link is stored.
//! Each step is one conditional UPDATE, so a URL or a code works once even under concurrency.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::teams_sign_in;

/// How long a URL from `link` may wait before it is opened.
pub const URL_TTL_SECS: i64 = 600;
/// How long the code shown at the end of the browser sign-in is accepted.
pub const CODE_TTL_SECS: i64 = 300;
/// Wrong codes after which the pending link is dropped.
pub const MAX_ATTEMPTS: i32 = 5;

/// A Teams-started sign-in.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = teams_sign_in)]
pub struct TeamsSignIn {
    pub id: Uuid,
    pub token_hash: Vec<u8>,
    pub tenant_id: Uuid,
    pub aad_object_id: Uuid,
    pub teams_user_id: String,
    pub jira_instance_id: Uuid,
    pub stage: String,
    pub jira_user_key: Option<String>,
    pub jira_user_name: Option<String>,
    pub jira_token: Option<Vec<u8>>,
    pub jira_refresh_token: Option<Vec<u8>>,
    pub jira_expires_at: Option<DateTime<Utc>>,
    pub jira_scopes: String,
    pub code_hash: Option<Vec<u8>>,
    pub attempts: i32,
    pub expires_at: DateTime<Utc>,
}

/// A URL being handed out to a Teams user.
#[derive(Debug, Insertable)]
#[diesel(table_name = teams_sign_in)]
pub struct NewTeamsSignIn<'a> {
    pub id: Uuid,
    pub token_hash: &'a [u8],
    pub tenant_id: Uuid,
    pub aad_object_id: Uuid,
    pub teams_user_id: &'a str,
    pub jira_instance_id: Uuid,
    pub stage: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// The Jira result of the browser sign-in, kept until the code comes back (tokens already
/// sealed for this row).
#[derive(Debug)]
pub struct JiraLeg<'a> {
    pub user_key: &'a str,
    pub user_name: &'a str,
    pub token: &'a [u8],
    pub refresh_token: Option<&'a [u8]>,
    pub expires_at: DateTime<Utc>,
    pub scopes: &'a str,
    pub code_hash: &'a [u8],
    pub code_expires_at: DateTime<Utc>,
}

impl NewTeamsSignIn<'_> {
    /// Stores the URL; earlier URLs of this Teams user that nobody opened stop working.
    pub fn insert(&self, conn: &mut PgConnection) -> QueryResult<()> {
        conn.transaction(|conn| {
            diesel::delete(
                teams_sign_in::table
                    .filter(teams_sign_in::teams_user_id.eq(self.teams_user_id))
                    .filter(teams_sign_in::stage.eq("issued")),
            )
            .execute(conn)?;
            diesel::insert_into(teams_sign_in::table)
                .values(self)
                .execute(conn)?;
            Ok(())
        })
    }
}

/// Columns cleared when a sign-in ends (pending tokens and code).
macro_rules! ended {
    ($stage:expr) => {
        (
            teams_sign_in::stage.eq($stage),
            teams_sign_in::jira_token.eq(None::<Vec<u8>>),
            teams_sign_in::jira_refresh_token.eq(None::<Vec<u8>>),
            teams_sign_in::code_hash.eq(None::<Vec<u8>>),
        )
    };
}

impl TeamsSignIn {
    /// Opens a URL: `issued` → `started` in one statement, so the URL works once and only
    /// before it expires; the sign-in then lives as long as the browser flow (`until`).
    pub fn open(
        conn: &mut PgConnection,
        token_hash: &[u8],
        until: DateTime<Utc>,
    ) -> QueryResult<Option<TeamsSignIn>> {
        diesel::update(
            teams_sign_in::table
                .filter(teams_sign_in::token_hash.eq(token_hash))
                .filter(teams_sign_in::stage.eq("issued"))
                .filter(teams_sign_in::expires_at.gt(diesel::dsl::now)),
        )
        .set((
            teams_sign_in::stage.eq("started"),
            teams_sign_in::expires_at.eq(until),
        ))
        .returning(TeamsSignIn::as_returning())
        .get_result(conn)
        .optional()
    }

    /// The sign-in of a URL (or of the flow it started: the flow's `start_hash`).
    pub fn by_token(
        conn: &mut PgConnection,
        token_hash: &[u8],
    ) -> QueryResult<Option<TeamsSignIn>> {
        teams_sign_in::table
            .filter(teams_sign_in::token_hash.eq(token_hash))
            .select(TeamsSignIn::as_select())
            .first(conn)
            .optional()
    }

    /// Ends a sign-in without a link; its pending tokens are erased.
    pub fn fail(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        let n = diesel::update(
            teams_sign_in::table
                .find(id)
                .filter(teams_sign_in::stage.ne("done")),
        )
        .set(ended!("failed"))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// A started sign-in waits for its code: the Jira result is kept, an older sign-in of the
    /// same Teams user still waiting for a code is dropped (one code awaited per user).
    pub fn to_verifying(conn: &mut PgConnection, id: Uuid, leg: &JiraLeg<'_>) -> QueryResult<bool> {
        conn.transaction(|conn| {
            let Some(user) = teams_sign_in::table
                .find(id)
                .filter(teams_sign_in::stage.eq("started"))
                .select(teams_sign_in::teams_user_id)
                .for_update()
                .first::<String>(conn)
                .optional()?
            else {
                return Ok(false);
            };
            diesel::update(
                teams_sign_in::table
                    .filter(teams_sign_in::teams_user_id.eq(&user))
                    .filter(teams_sign_in::stage.eq("verifying")),
            )
            .set(ended!("failed"))
            .execute(conn)?;
            let n = diesel::update(teams_sign_in::table.find(id))
                .set((
                    teams_sign_in::stage.eq("verifying"),
                    teams_sign_in::jira_user_key.eq(leg.user_key),
                    teams_sign_in::jira_user_name.eq(leg.user_name),
                    teams_sign_in::jira_token.eq(leg.token),
                    teams_sign_in::jira_refresh_token.eq(leg.refresh_token),
                    teams_sign_in::jira_expires_at.eq(leg.expires_at),
                    teams_sign_in::jira_scopes.eq(leg.scopes),
                    teams_sign_in::code_hash.eq(leg.code_hash),
                    teams_sign_in::expires_at.eq(leg.code_expires_at),
                ))
                .execute(conn)?;
            Ok(n == 1)
        })
    }

    /// The sign-in of this Teams user waiting for a code (expired or not).
    pub fn awaiting_code(
        conn: &mut PgConnection,
        teams_user_id: &str,
    ) -> QueryResult<Option<TeamsSignIn>> {
        teams_sign_in::table
            .filter(teams_sign_in::teams_user_id.eq(teams_user_id))
            .filter(teams_sign_in::stage.eq("verifying"))
            .select(TeamsSignIn::as_select())
            .first(conn)
            .optional()
    }

    /// Counts a wrong code; at [`MAX_ATTEMPTS`] the sign-in is dropped. Returns the tries left.
    pub fn wrong_code(conn: &mut PgConnection, id: Uuid) -> QueryResult<i32> {
        let attempts: Option<i32> = diesel::update(
            teams_sign_in::table
                .find(id)
                .filter(teams_sign_in::stage.eq("verifying")),
        )
        .set(teams_sign_in::attempts.eq(teams_sign_in::attempts + 1))
        .returning(teams_sign_in::attempts)
        .get_result(conn)
        .optional()?;
        let left = MAX_ATTEMPTS - attempts.unwrap_or(MAX_ATTEMPTS);
        if left <= 0 {
            Self::fail(conn, id)?;
        }
        Ok(left.max(0))
    }

    /// Marks a sign-in whose code came back as done (pending tokens erased), if it is still
    /// waiting and not expired; `false` when another request got there first.
    pub fn complete(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
        let n = diesel::update(
            teams_sign_in::table
                .find(id)
                .filter(teams_sign_in::stage.eq("verifying"))
                .filter(teams_sign_in::expires_at.gt(diesel::dsl::now)),
        )
        .set(ended!("done"))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Removes expired sign-ins with whatever they still hold; returns how many.
    pub fn purge_expired(conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::delete(teams_sign_in::table.filter(teams_sign_in::expires_at.lt(diesel::dsl::now)))
            .execute(conn)
    }
}
