//! Sign-ins in progress (Microsoft leg, then Jira leg). Each step consumes the row's current
//! state with one conditional UPDATE, so a state works once even under concurrent callbacks.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::sign_in_flow;

/// How long a started sign-in may take.
pub const FLOW_TTL_MINS: i64 = 15;

/// A sign-in flow row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sign_in_flow)]
pub struct SignInFlow {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    /// The Jira user the link was made for; `None` for a sign-in started from Teams, whose
    /// Jira user is whoever signs in to Jira (see `teams_sign_in`).
    pub jira_user_key: Option<String>,
    pub start_hash: Vec<u8>,
    pub browser_hash: Vec<u8>,
    pub state_hash: Option<Vec<u8>>,
    pub stage: String,
    pub pkce_verifier: Option<String>,
    pub nonce: Option<String>,
    pub ms_tenant_id: Option<Uuid>,
    pub ms_user_id: Option<Uuid>,
    pub ms_token: Option<Vec<u8>>,
    pub ms_refresh_token: Option<Vec<u8>>,
    pub ms_expires_at: Option<DateTime<Utc>>,
    pub ms_user_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// A new flow, at the Microsoft leg.
#[derive(Debug, Insertable)]
#[diesel(table_name = sign_in_flow)]
pub struct NewSignInFlow<'a> {
    pub id: Uuid,
    pub jira_instance_id: Uuid,
    pub jira_user_key: Option<&'a str>,
    pub start_hash: &'a [u8],
    pub browser_hash: &'a [u8],
    pub state_hash: &'a [u8],
    pub stage: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// The Microsoft result kept for the Jira leg (tokens already sealed for this row).
#[derive(Debug)]
pub struct MicrosoftLeg<'a> {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub token: &'a [u8],
    pub refresh_token: Option<&'a [u8]>,
    pub expires_at: DateTime<Utc>,
    pub user_name: &'a str,
    pub next_state_hash: &'a [u8],
    pub next_verifier: &'a str,
}

impl NewSignInFlow<'_> {
    /// Inserts the flow; `false` when this start link was used before.
    pub fn insert(&self, conn: &mut PgConnection) -> QueryResult<bool> {
        let n = diesel::insert_into(sign_in_flow::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(conn)?;
        Ok(n == 1)
    }
}

impl SignInFlow {
    /// Takes the flow waiting at `stage` for this state: the state is cleared in the same
    /// statement, so it cannot be used twice. Expired flows are not taken.
    pub fn take(
        conn: &mut PgConnection,
        state_hash: &[u8],
        stage: &str,
    ) -> QueryResult<Option<SignInFlow>> {
        diesel::update(
            sign_in_flow::table
                .filter(sign_in_flow::state_hash.eq(state_hash))
                .filter(sign_in_flow::stage.eq(stage))
                .filter(sign_in_flow::expires_at.gt(diesel::dsl::now)),
        )
        .set((
            sign_in_flow::state_hash.eq(None::<Vec<u8>>),
            sign_in_flow::stage.eq("failed"),
        ))
        .returning(SignInFlow::as_returning())
        .get_result(conn)
        .optional()
    }

    /// Moves a taken flow to the Jira leg with the Microsoft result.
    pub fn to_jira_leg(
        conn: &mut PgConnection,
        id: Uuid,
        leg: &MicrosoftLeg<'_>,
    ) -> QueryResult<bool> {
        let n = diesel::update(sign_in_flow::table.find(id))
            .set((
                sign_in_flow::stage.eq("jira"),
                sign_in_flow::state_hash.eq(leg.next_state_hash),
                sign_in_flow::pkce_verifier.eq(leg.next_verifier),
                sign_in_flow::nonce.eq(None::<String>),
                sign_in_flow::ms_tenant_id.eq(leg.tenant_id),
                sign_in_flow::ms_user_id.eq(leg.user_id),
                sign_in_flow::ms_token.eq(leg.token),
                sign_in_flow::ms_refresh_token.eq(leg.refresh_token),
                sign_in_flow::ms_expires_at.eq(leg.expires_at),
                sign_in_flow::ms_user_name.eq(leg.user_name),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// Marks a flow done or failed and drops its pending tokens. The row stays until it
    /// expires, so its start link stays spent.
    pub fn close(conn: &mut PgConnection, id: Uuid, stage: &str) -> QueryResult<bool> {
        let n = diesel::update(sign_in_flow::table.find(id))
            .set((
                sign_in_flow::stage.eq(stage),
                sign_in_flow::state_hash.eq(None::<Vec<u8>>),
                sign_in_flow::ms_token.eq(None::<Vec<u8>>),
                sign_in_flow::ms_refresh_token.eq(None::<Vec<u8>>),
                sign_in_flow::pkce_verifier.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// Removes expired flows (and failed ones past their expiry); returns how many.
    pub fn purge_expired(conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::delete(sign_in_flow::table.filter(sign_in_flow::expires_at.lt(diesel::dsl::now)))
            .execute(conn)
    }
}

impl SignInFlow {
    /// A taken flow of a Teams-started sign-in waits (its Microsoft tokens kept) for the code
    /// to come back through Teams, until `until`.
    pub fn to_verify(conn: &mut PgConnection, id: Uuid, until: DateTime<Utc>) -> QueryResult<bool> {
        let n = diesel::update(sign_in_flow::table.find(id))
            .set((
                sign_in_flow::stage.eq("verify"),
                sign_in_flow::pkce_verifier.eq(None::<String>),
                sign_in_flow::expires_at.eq(until),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// The flow a start link opened (its `start_hash`), if it is still there.
    pub fn by_start(conn: &mut PgConnection, start_hash: &[u8]) -> QueryResult<Option<SignInFlow>> {
        sign_in_flow::table
            .filter(sign_in_flow::start_hash.eq(start_hash))
            .select(SignInFlow::as_select())
            .first(conn)
            .optional()
    }
}

impl SignInFlow {
    /// Marks a new flow as a sign-in to the Jira user pages that returns to `next_path`.
    pub fn set_return(conn: &mut PgConnection, id: Uuid, next_path: &str) -> QueryResult<()> {
        use crate::db::schema::sign_in_return;
        diesel::insert_into(sign_in_return::table)
            .values((
                sign_in_return::flow_id.eq(id),
                sign_in_return::next_path.eq(next_path),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Where a sign-in to the Jira user pages returns to; `None` for account linking.
    pub fn return_path(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<String>> {
        use crate::db::schema::sign_in_return;
        sign_in_return::table
            .find(id)
            .select(sign_in_return::next_path)
            .first(conn)
            .optional()
    }
}
